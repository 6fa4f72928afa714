/* RFC 3339 UTC timestamps from nanoseconds since the Unix epoch (util.h). */
#include <stdio.h>
#include <time.h>

#include "util/util.h"

size_t lg_rfc3339(int64_t unix_ns, int digits, char *out, size_t cap) {
  const int64_t sec_ns = 1000000000LL;
  int64_t s = unix_ns / sec_ns, frac = unix_ns % sec_ns;
  if (frac < 0) s--, frac += sec_ns; /* before 1970: the second below, a positive fraction */
  time_t t = (time_t)s;
  struct tm tm;
  if (cap == 0) return 0;
  size_t n = gmtime_r(&t, &tm) ? strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm) : 0;
  if (n == 0) return out[0] = '\0', 0;
  int k;
  if (digits <= 3)
    k = snprintf(out + n, cap - n, ".%03lldZ", (long long)(frac / 1000000));
  else if (digits <= 6)
    k = snprintf(out + n, cap - n, ".%06lldZ", (long long)(frac / 1000));
  else
    k = snprintf(out + n, cap - n, ".%09lldZ", (long long)frac);
  if (k > 0 && (size_t)k < cap - n) return n + (size_t)k;
  out[0] = '\0';
  return 0;
}
