/* Names of the project-wide error codes (util.h). */
#include "util/util.h"

const char *lg_strerror(int err) {
  switch (err) {
  case LG_OK: return "success";
  case LG_EINVAL: return "invalid argument";
  case LG_ETRUNC: return "input truncated";
  case LG_ETOOLONG: return "input too long";
  case LG_EBADHEX: return "not a hex string";
  case LG_EMTYPE: return "unsupported message type";
  case LG_EMIC: return "MIC mismatch";
  case LG_ECRYPTO: return "crypto library failure";
  case LG_ENOMEM: return "out of memory";
  case LG_EUNKNOWN: return "unknown identifier";
  case LG_ENOSPC: return "output buffer too small";
  case LG_ENOTFOUND: return "not found";
  case LG_EIO: return "storage or I/O failure";
  case LG_EBUSY: return "changed concurrently";
  case LG_EEXIST: return "already exists";
  default: return "unknown error";
  }
}
