/* One session with wireguard-go v0.0.20220316, captured from a live exchange, with a
 * preshared key. "We" are the peer with public key 07b5b338...; wireguard-go (f30784cc...)
 * listened on 127.0.0.1:51820 with 10.0.0.2/24, and we sent from 127.0.0.1:40000 as
 * 10.0.0.1. Each value is hex, whole messages with their macs, as it crossed the wire.
 *
 * test_noise checks the handshake and the transport keys against them, test_cookie the
 * macs and the cookie reply. Not every file uses every value. */
#ifndef VPND_TESTS_WIREGUARD_GO_VECTORS_H
#define VPND_TESTS_WIREGUARD_GO_VECTORS_H

#include <stdint.h>

/* ---- the keys ------------------------------------------------------------------------ */

static const char our_private[] =
    "8052ad84f66db9b7b96202002d9e3edfa2c958089c0cf6114c19efd360613e4c";
static const char our_public[] = "07b5b3385535b09e1517e495f023c178862755a7011402ac315fc28ebfee0046";
static const char go_public[] = "f30784cc3fcd2fa9e2491a0223155fb2362a44c7f7f42821e4df9db8ed99cc1f";
static const char session_psk[] =
    "2f41a5f053b24a1392e5f56c18f0c430cb22d95b12769b8f3d7f165c74f54dc0";

/* ---- we initiate --------------------------------------------------------------------- */

/* The TAI64N timestamp and the ephemeral private key of our initiation. */
static const char our_initiation_timestamp[] = "400000006b05482721000000";
static const char our_initiation_ephemeral[] =
    "f0b5e98fd70253b57b8a340cdf40c4cadec9895b8b78886a0e48d3503ebd0979";
/* Our initiation, sender index 0x0a0b0c0d, mac1 only. */
static const char our_initiation[] =
    "010000000d0c0b0aa711991d1bfb0b473ed789dc3dfe4280533f72b9477a1a3b99445d3604f27c69b7cd"
    "305b49edf4916c445f0f4516d65b1d485a04f6ef52625ae2293c6859575c6a37624ad668a989653fe225"
    "9f2209c4ee254c77b2d50344089f999ef77bfb8e69c8275a0b3dc3491bacd5cb67569fa13acf9062a6cb"
    "da671591d5e500000000000000000000000000000000";
/* wireguard-go's response to it, sender index 0x8ee38a93. */
static const char go_response[] =
    "02000000938ae38e0d0c0b0a94539159d29d98027b8c034d6ddc63747c46474430d3f253cb3af789a6e3"
    "fc178bc0b9580216ccdefba72e70bf144dc09d21b5f830eaf8079d21c07f9da630c80000000000000000"
    "0000000000000000";
/* The ICMP echo request we then sent to 10.0.0.2, as transport counter 0: the packet, and
 * its ciphertext and tag. */
static const char our_echo_request[] =
    "4500002000000000400166db0a0000010a000002080000f61234000176706e64";
static const char our_echo_request_sealed[] =
    "ff4c8650c644486296f509073a4820310e6ed95759f77be35a86b1a00f3b20f6d3d3dc0ca35c3aa4"
    "3664bdcb1d67bee1";
/* wireguard-go's answer: the transport message, and the echo reply inside. */
static const char go_echo_reply[] =
    "040000000d0c0b0a0000000000000000205c3b4194b0f95a37da02631a5784034d77604ee0d2e"
    "59d7da07c93eecafca0ddd9211b3ec2c9ee20b27024703b8e81";
static const char go_echo_reply_plain[] =
    "45000020b6ac00004001b02e0a0000020a000001000008f61234000176706e64";

/* ---- wireguard-go initiates ---------------------------------------------------------- */

/* Where wireguard-go sent from, as the cookie code takes an address: 127.0.0.1:51820. */
static const uint8_t go_src[] = {127, 0, 0, 1, 0xca, 0x6c};
/* Its initiation, sender index 0xa13a46ed, mac1 only. */
static const char go_initiation1[] =
    "01000000ed463aa1181123876869bc41e00a44630c7a439c931ee7774f03bcb24ddb2db86e7e44449c4b"
    "ab4faa46225c530f6b77f420aacd63ba9deaa6aee19baaab9295936ed86911275c13eff8f92dd0a59e62"
    "cb6ab77a77b0ca62094654c6c1373cf890b69d143224cd410906bafa741d0d347dfae1c4e61b953aabcf"
    "6fa7a8d2450900000000000000000000000000000000";
/* Our cookie reply to go_initiation1, from a checker whose secret was our_cookie_secret. */
static const char our_cookie_reply[] =
    "03000000ed463aa170dd02bfb4b7693f35f4733bd7d3817b197053e0f724bfb2c005acdca3521e286dac"
    "d9f07ae2c3afa443e825c95e95730618982c76948ba8";
static const char our_cookie_secret[] =
    "aee32387f5786e3d5bfddf34484da3b37700b11e7ff515eeeca7b06e6148fdcf";
/* Its retry five seconds later, after our cookie reply (so it carries a mac2), sender
 * index 0x6ca39456. */
static const char go_initiation2[] =
    "010000005694a36c3bb1a66b6366a04ae4a006fffdda760a5cb2df03bf04cb6aadceb2e76bfe057cad5b"
    "1871cc5a0b3d5bfdc7120da3f86ba43f6ff812a33c141195f40518842921d441fa85d79f8375f999cffa"
    "d0c53b2be86a9cb4a994ca5e7a9af27d0a8fc298e0dce8ff8a89d1531118d3e6012405b19e4c262d39e2"
    "4da4640d873fd3ed1070664e6b3529689f3562290892";
/* The ephemeral private key of our response to go_initiation2, and the response. */
static const char our_response_ephemeral[] =
    "07330971fd07f99a1871a30e49903ec130d83c0c07c66ea5a727c2a2cdd028ff";
static const char our_response[] =
    "020000000d0c0b0a5694a36c8a063e271343cf9bcaaba3cbd3569ba68376acca844431769a1eecff4dae"
    "276bd5a846a6e47c4bc06c0be435e6a8663589d6442145e7ce2da72b3c23b0f297b00000000000000000"
    "0000000000000000";
/* The ICMP echo request wireguard-go had staged, sent once our response arrived: the
 * transport message, and the packet inside. */
static const char go_echo_request[] =
    "040000000d0c0b0a000000000000000071cef6190e71eeee4e1366420988ca1ba0b8519c5ccad"
    "1bc9ecd73d6bbb4dd791bc8ed2d156e385f56eaac97179a06c5f6cc20306f81fbcdf49b030071f2"
    "9b5ce9847dab768f8b63612e1ac3ef793ddcbd3cb35591ca28191e3d2addd8e57344cbbf235ba59"
    "a3cc9ee6c6eea5f7e207f";
static const char go_echo_request_plain[] =
    "450000544df240004001d8b40a0000020a00000108008941204400012048056b000000005ff30a"
    "0000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031"
    "323334353637000000000000000000000000";

#endif
