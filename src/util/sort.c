/* Sorting doubles: the comparator qsort wants, and the median of an array. */
#include <stdlib.h>

#include "util/util.h"

int lg_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double lg_median(double *v, size_t n) {
  if (n == 0) return 0;
  qsort(v, n, sizeof(*v), lg_cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
