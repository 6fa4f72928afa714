/*
 * libFuzzer harness for the HTTP API's request path: the input is a raw HTTP/1.1 request
 * (request line, headers, body: anything) written into a socketpair whose other end is
 * handed to the API's libmicrohttpd daemon, which parses it and runs the same guard
 * (Host, Origin, Content-Type, token) and routes as the server, over an in-memory
 * database. This drives the real parser and the real handler together, which a harness
 * calling the route function directly could not (its MHD_Connection cannot be faked), and
 * keeps it single-threaded (no listen socket, MHD_run from here) so runs are repeatable.
 * Properties: no crash, leak or sanitizer report; every request gets an answer that starts
 * with an HTTP status line, or the connection is closed (a request MHD refuses).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lg_api *api;
static struct lg_ns_metrics metrics;

static void setup(void) {
  struct lg_config cfg;
  char why[512];
  static const char ini[] = "[server]\ndatabase = :memory:\n[security]\nallow_plaintext_keys = "
                            "true\n[api]\ntoken = rw\nread_token = ro\n";
  if (lg_config_parse_text(&cfg, "fuzz.ini", ini, sizeof(ini) - 1, why, sizeof(why))) abort();
  cfg.kek_file[0] = '\0';
  cfg.kek_file_set = true;
  if ((api = lg_api_start_unthreaded(&cfg, &metrics, why, sizeof(why))) == NULL) {
    fprintf(stderr, "fuzz_http: %s\n", why);
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (api == NULL) setup();
  if (size > 65536) return 0;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) abort();
  /* the request, then EOF: what the socket buffer takes (at least 64 KiB) */
  size_t off = 0;
  while (off < size) {
    ssize_t n = write(sv[0], data + off, size - off);
    if (n <= 0) break;
    off += (size_t)n;
  }
  shutdown(sv[0], SHUT_WR);
  if (lg_api_serve_fd(api, sv[1]) != 0) {
    close(sv[0]);
    return 0;
  }
  char answer[16];
  size_t got = 0;
  for (int round = 0; round < 64; round++) { /* until the daemon closes its end */
    lg_api_run(api);
    char buf[4096];
    ssize_t n;
    while ((n = read(sv[0], buf, sizeof(buf))) > 0) {
      if (got < sizeof(answer)) memcpy(answer + got, buf, (size_t)n < sizeof(answer) - got
                                                                ? (size_t)n
                                                                : sizeof(answer) - got);
      got += (size_t)n;
    }
    if (n == 0) break; /* closed */
  }
  if (getenv("LG_FUZZ_HTTP_VERBOSE")) /* what each request got: the seeds' checks */
    fprintf(stderr, "fuzz_http: %zu bytes answered: %.*s\n", got, (int)(got < 16 ? got : 16), answer);
  if (got > 0 && (got < 5 || memcmp(answer, "HTTP/", 5) != 0)) abort();
  close(sv[0]);
  lg_api_run(api); /* the daemon notices the close */
  return 0;
}
