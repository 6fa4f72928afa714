/*
 * Replays a fuzz corpus through a harness without libFuzzer, so every CI run (and the
 * sanitizer build) re-checks each stored input. Usage: replay DIR... (every regular
 * file in each directory is one input). Exit 0 when all inputs ran.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return -1;
  uint8_t buf[4096];
  size_t n = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  /* Copy into an exact-size allocation so ASan catches a read past the end. */
  uint8_t *exact = malloc(n ? n : 1);
  if (exact == NULL) return -1;
  memcpy(exact, buf, n);
  LLVMFuzzerTestOneInput(exact, n);
  free(exact);
  return 0;
}

int main(int argc, char **argv) {
  long count = 0;
  for (int i = 1; i < argc; i++) {
    DIR *d = opendir(argv[i]);
    if (d == NULL) {
      fprintf(stderr, "replay: cannot open %s\n", argv[i]);
      return 1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      char path[4096];
      struct stat st;
      snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
      if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
      if (run_file(path) != 0) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        closedir(d);
        return 1;
      }
      count++;
    }
    closedir(d);
  }
  printf("replay: %ld inputs ran clean\n", count);
  return count > 0 ? 0 : 1;
}
