/*
 * The key-encryption key that wraps device keys in the store (kek.c: AES key wrap,
 * RFC 3394). Part of store/: the store wraps on write and unwraps on read once
 * lg_store_use_kek() gave it one.
 */
#ifndef LG_STORE_KEK_H
#define LG_STORE_KEK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LG_KEK_WRAPPED_LEN (3 + 48 + 1) /* "w1:" + 24 bytes in hex + NUL */

struct lg_kek {
  uint8_t key[32];
  size_t len; /* 16 or 32; 0: none */
};

/* Reads a KEK file (32 or 64 hex digits, a trailing newline allowed). LG_EIO (cannot
 * read), LG_EINVAL (not such a key), with the reason naming the file. */
int lg_kek_load(const char *path, struct lg_kek *k, char *why, size_t why_len);
/* Creates a new 256-bit KEK file from /dev/urandom, mode 0600; refuses an existing file. */
int lg_kek_create(const char *path, char *why, size_t why_len);
/* A 16-byte key wrapped: "w1:<48 hex digits>". LG_ECRYPTO when OpenSSL fails. */
int lg_kek_wrap(const struct lg_kek *k, const uint8_t key[16], char out[LG_KEK_WRAPPED_LEN]);
/* Unwraps "w1:..." into key. LG_EINVAL (not a wrapped key), LG_ENOTFOUND (no KEK given),
 * LG_ECRYPTO (the integrity check failed: another KEK). */
int lg_kek_unwrap(const struct lg_kek *k, const char *text, uint8_t key[16]);
bool lg_kek_is_wrapped(const char *text);

#endif
