/* Limits shared by the daemon, the config parser and vpnctl. */
#ifndef VPND_LIMITS_H
#define VPND_LIMITS_H

#define VPND_DEFAULT_PORT	     51820
#define VPND_DEFAULT_MTU	     1420
#define VPND_MIN_MTU		     576
#define VPND_MAX_MTU		     9000
#define VPND_MAX_PEERS		     65536
#define VPND_MAX_ALLOWED_IPS	     1024 /* per peer */
#define VPND_MAX_ADDRESSES	     64
#define VPND_PEER_NAME_MAX	     63 /* characters */
#define VPND_IFNAME_MAX		     15
#define VPND_DEFAULT_REKEY_AFTER_TIME 120

#endif
