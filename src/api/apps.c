/*
 * /api/applications: an admin makes, renames and deletes applications; a key of one
 * application sees (and, read-write, renames) that one only. An application with devices
 * is not deleted (409: its devices would be orphans), nor the default one (id 1), which
 * takes the devices provisioned without an application.
 */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "util/util.h"

/* name and description of b into a (name required when `need_name`). */
static int parse_app(json_t *b, struct lg_app_rec *a, bool need_name, json_t **out) {
  static const char *const keys[] = {"name", "description", "id"};
  char why[200];
  if (lg_api_known_keys(b, keys, LG_ARRAY_LEN(keys), why, sizeof(why)))
    return lg_api_fail(out, 400, "%s", why);
  json_t *id = json_object_get(b, "id");
  if (id && (!json_is_integer(id) || json_integer_value(id) != a->id))
    return lg_api_fail(out, 400, "id cannot change (it is given by the server)");
  json_t *v = json_object_get(b, "name");
  if ((v || need_name) && (!json_is_string(v) || json_string_length(v) == 0 ||
                           json_string_length(v) >= sizeof(a->name)))
    return lg_api_fail(out, 400, "name: expected a string of 1..%zu characters",
                       sizeof(a->name) - 1);
  if (v) snprintf(a->name, sizeof(a->name), "%s", json_string_value(v));
  v = json_object_get(b, "description");
  if (v && (!json_is_string(v) || json_string_length(v) >= sizeof(a->description)))
    return lg_api_fail(out, 400, "description: expected a string of at most %zu characters",
                       sizeof(a->description) - 1);
  if (v) snprintf(a->description, sizeof(a->description), "%s", json_string_value(v));
  return 0;
}

int lg_api_apps(struct lg_api_req *r, json_t **out) {
  if (lg_api_is(r, "POST")) {
    if (!lg_api_admin(r))
      return lg_api_fail(out, 403, "only an admin key makes applications");
    struct lg_app_rec a = {0};
    int bad = parse_app(r->body, &a, true, out);
    if (bad) return bad;
    if (lg_store_app_put(r->store, &a, r->now_ns)) return lg_api_fail(out, 500, "storage failed");
    *out = lg_store_app_json(r->store, a.id);
    return *out ? 201 : lg_api_fail(out, 500, "storage failed");
  }
  int limit, bad;
  const char *after;
  int64_t from = 0;
  if ((bad = lg_api_page(r, 1000, &limit, &after, out))) return bad;
  if (after && lg_api_id(after, &from))
    return lg_api_fail(out, 400, "after: expected the \"next\" of the page before (an id)");
  *out = lg_store_apps_json(r->store, r->scope.application_id, from, limit);
  return *out ? 200 : lg_api_fail(out, 500, "storage failed");
}

int lg_api_app(struct lg_api_req *r, json_t **out) {
  int64_t id;
  struct lg_app_rec a;
  if (lg_api_id(r->var[0], &id))
    return lg_api_fail(out, 400, "application id: expected a positive integer");
  if ((!lg_api_admin(r) && id != r->scope.application_id) ||
      lg_store_app_get(r->store, id, &a) == LG_ENOTFOUND)
    return lg_api_fail(out, 404, "no application %lld", (long long)id);
  if (lg_api_is(r, "DELETE")) {
    if (!lg_api_admin(r)) return lg_api_fail(out, 403, "only an admin key deletes applications");
    if (id == 1)
      return lg_api_fail(out, 409, "application 1 is the default one: devices provisioned "
                                   "without application_id go there");
    int64_t n = 0;
    int rc = lg_store_app_delete(r->store, id, r->now_ns, &n);
    if (rc == LG_EBUSY)
      return lg_api_fail(out, 409,
                         "application %lld has %lld devices: delete them or move them "
                         "(PATCH application_id) first",
                         (long long)id, (long long)n);
    return rc ? lg_api_fail(out, 500, "storage failed") : (*out = json_object(), 200);
  }
  if (lg_api_is(r, "PATCH")) {
    int bad = parse_app(r->body, &a, false, out);
    if (bad) return bad;
    if (lg_store_app_put(r->store, &a, r->now_ns)) return lg_api_fail(out, 500, "storage failed");
  }
  *out = lg_store_app_json(r->store, id);
  return *out ? 200 : lg_api_fail(out, 500, "storage failed");
}
