/*
 * Keys at rest (issue 16 item 3): device root and session keys are stored wrapped with a
 * key-encryption key, AES key wrap (RFC 3394) from OpenSSL — a 16-byte key becomes 24
 * bytes, written as "w1:" and 48 hex digits, so a copy of the database (a backup, a dump,
 * `strings`) holds no key. The KEK is 128 or 256 bits, read from a file of 32 or 64 hex
 * digits. A check value (the wrap of 16 zero bytes) in the `meta` table ties a database to
 * its KEK: a server started with another one refuses at once, instead of failing every
 * frame's MIC.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "store/kek.h"
#include "store/store.h"
#include "util/util.h"

int lg_kek_load(const char *path, struct lg_kek *k, char *why, size_t why_len) {
  memset(k, 0, sizeof(*k));
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    snprintf(why, why_len, "%s: %s", path, strerror(errno));
    return LG_EIO;
  }
  char buf[130];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
    buf[--n] = '\0';
  size_t got = 0;
  if ((n != 32 && n != 64) || lg_hex_decode(buf, n, k->key, sizeof(k->key), &got) != 0) {
    snprintf(why, why_len, "%s: expected 32 or 64 hex digits (a 128- or 256-bit key)", path);
    return LG_EINVAL;
  }
  k->len = got;
  return 0;
}

int lg_kek_create(const char *path, char *why, size_t why_len) {
  uint8_t key[32];
  FILE *r = fopen("/dev/urandom", "r");
  size_t n = r ? fread(key, 1, sizeof(key), r) : 0;
  if (r) fclose(r);
  if (n != sizeof(key)) {
    snprintf(why, why_len, "cannot read /dev/urandom");
    return LG_EIO;
  }
  char hex[65];
  lg_hex_encode(key, sizeof(key), hex, sizeof(hex));
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    snprintf(why, why_len, "%s: %s", path, strerror(errno));
    return LG_EIO;
  }
  hex[64] = '\n';
  ssize_t w = write(fd, hex, 65);
  int c = close(fd);
  if (w != 65 || c != 0) {
    snprintf(why, why_len, "%s: cannot write", path);
    unlink(path);
    return LG_EIO;
  }
  return 0;
}

/* RFC 3394 in either direction: 16 bytes in, 24 out (wrap) or 24 in, 16 out (unwrap). */
static int crypt(const struct lg_kek *k, bool wrap, const uint8_t *in, size_t in_len,
                 uint8_t *out) {
  const EVP_CIPHER *c = k->len == 32 ? EVP_aes_256_wrap() : EVP_aes_128_wrap();
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int ok = 0, len = 0, fin = 0;
  if (ctx) {
    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    ok = (wrap ? EVP_EncryptInit_ex(ctx, c, NULL, k->key, NULL)
               : EVP_DecryptInit_ex(ctx, c, NULL, k->key, NULL)) == 1 &&
         (wrap ? EVP_EncryptUpdate(ctx, out, &len, in, (int)in_len)
               : EVP_DecryptUpdate(ctx, out, &len, in, (int)in_len)) == 1 &&
         (wrap ? EVP_EncryptFinal_ex(ctx, out + len, &fin)
               : EVP_DecryptFinal_ex(ctx, out + len, &fin)) == 1 &&
         (size_t)(len + fin) == (wrap ? in_len + 8 : in_len - 8);
    EVP_CIPHER_CTX_free(ctx);
  }
  return ok ? 0 : LG_ECRYPTO;
}

int lg_kek_wrap(const struct lg_kek *k, const uint8_t key[16], char out[LG_KEK_WRAPPED_LEN]) {
  uint8_t w[24];
  if (crypt(k, true, key, 16, w) != 0) return LG_ECRYPTO;
  memcpy(out, "w1:", 3);
  lg_hex_encode(w, sizeof(w), out + 3, LG_KEK_WRAPPED_LEN - 3);
  return 0;
}

int lg_kek_unwrap(const struct lg_kek *k, const char *text, uint8_t key[16]) {
  uint8_t w[24];
  size_t n = 0;
  if (strncmp(text, "w1:", 3) != 0 || strlen(text) != 3 + 48 ||
      lg_hex_decode(text + 3, 48, w, sizeof(w), &n) != 0 || n != 24)
    return LG_EINVAL;
  if (k == NULL || k->len == 0) return LG_ENOTFOUND;
  /* the integrity check of RFC 3394 fails for another KEK: never a wrong key silently */
  return crypt(k, false, w, sizeof(w), key);
}

bool lg_kek_is_wrapped(const char *text) {
  return text && strncmp(text, "w1:", 3) == 0;
}

/* Gateway tokens (Basics Station): kept as their SHA-256, as a password would be; a token
 * is a long random secret, so no salt or slow hash is needed against guessing. */
void lg_store_token_hash(const char *token, size_t len, char out[65]) {
  uint8_t md[32];
  unsigned n = 0;
  if (EVP_Digest(token, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32) {
    out[0] = '\0';
    return;
  }
  lg_hex_encode(md, 32, out, 65);
}

bool lg_store_token_ok(const char *token, size_t len, const char *hash) {
  char h[65];
  lg_store_token_hash(token, len, h);
  return h[0] && strlen(hash) == 64 && CRYPTO_memcmp(h, hash, 64) == 0;
}
