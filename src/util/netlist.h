/*
 * netlist — a bounded allow-list of IP networks in CIDR notation ("10.0.0.0/8,
 * 192.168.1.0/24, ::1/128"), for [security] gateway_networks: the source networks
 * gateways may send from. IPv4 and IPv6; an IPv4-mapped IPv6 source (::ffff:a.b.c.d, as a
 * dual-stack socket reports IPv4 peers) is matched against the IPv4 networks.
 */
#ifndef LG_UTIL_NETLIST_H
#define LG_UTIL_NETLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define LG_NETLIST_MAX 64

struct lg_net {
  int family;        /* AF_INET or AF_INET6 */
  uint8_t addr[16];  /* network address (4 or 16 bytes), host bits cleared */
  int prefix_bits;   /* 0..32 (IPv4) or 0..128 (IPv6) */
};

struct lg_netlist {
  struct lg_net net[LG_NETLIST_MAX];
  size_t n; /* 0: an empty list (callers treat it as "no allow-list") */
};

/* Parses a comma-separated list of CIDR networks (spaces allowed around entries; a bare
 * address is a /32 or /128) of at most LG_NETLIST_MAX entries into *out. Host bits set
 * in an entry (10.0.0.1/8) are refused: a typo that would let in a wider network than
 * written. An empty string gives an empty list. LG_EINVAL with the bad entry in why. */
int lg_netlist_parse(const char *s, struct lg_netlist *out, char *why, size_t why_len);

/* Whether the source address `sa` (AF_INET / AF_INET6) is inside one of the networks. */
bool lg_netlist_has(const struct lg_netlist *l, const struct sockaddr *sa);

#endif
