/* The control protocol between vpnctl and vpnd, over a Unix stream socket.
 *
 * Request: one line of printable ASCII ending in '\n', at most VPND_CTL_MAX_REQUEST
 * bytes with the newline, words separated by single spaces; the first word is the
 * command. One request per connection.
 *
 * Reply: a status line, "ok\n" or "error\n", then the body (UTF-8 text: the requested
 * output, or one line per problem for an error), then the server closes the
 * connection. A reply body is at most VPND_CTL_MAX_REPLY bytes.
 *
 * Commands:
 *   show [PEER]          human-readable state
 *   show-json            the JSON document of the contract
 *   reload               re-read the config file and apply the difference
 *   status [PEER]        one line per peer (or only PEER) and a summary line; the body
 *                        ends with the line "overall STATE": the worst peer state, "up",
 *                        "connecting" or "down" ("up" when there are no peers). It is
 *                        for vpnctl, which turns it into its exit status and does not
 *                        print it.
 *   show-dot             the peers as a Graphviz graph (DOT language)
 *   metrics              the counters in the Prometheus text exposition format (the text
 *                        metrics-listen serves at GET /metrics)
 *   revoke PEER          end PEER's sessions now and refuse its key from then on; the
 *                        key is added to the revocation list
 *   unrevoke KEY         take the base64 public KEY off the revocation list
 *   rotate-key           write a new private key to <private-key-file>.next (0600); the
 *                        body is its base64 public key and the file's path, one a line
 *   peer-add NAME PUBLIC-KEY PREFIX[,PREFIX...] [endpoint=IP:PORT] [keepalive=SECONDS]
 *            [preshared-key=BASE64]
 *                        add a peer to the running interface only (until the next reload
 *                        or restart); the endpoint is numeric (the client resolves names)
 *   peer-remove NAME     take a peer out of the running interface (until the next reload
 *                        or restart)
 */
#ifndef VPND_CONTROL_H
#define VPND_CONTROL_H

#define VPND_CTL_MAX_REQUEST 4096
#define VPND_CTL_MAX_REPLY   (16u << 20)
#define VPND_CTL_MAX_ARGS    32
#define VPND_RUN_DIR	     "/run/vpnd"
#define VPND_STATE_DIR	     "/var/lib/vpnd"
#define VPND_CONF_DIR	     "/etc/vpnd"

#define VPND_CTL_REPLY_OK    "ok\n"
#define VPND_CTL_REPLY_ERROR "error\n"
/* Starts the last line of a status reply, followed by the worst state. */
#define VPND_CTL_STATUS_OVERALL "overall "

#endif
