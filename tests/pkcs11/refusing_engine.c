/* twinhsm-refusing: an OpenSSL ENGINE, for tests only, whose random number generator refuses
 * every request. hostile_engine.cnf makes it the default for everything in a test process, as a
 * configuration file can make any engine (hostile_openssl_test.cc says what that shows). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/engine.h>
#include <openssl/rand.h>

static int refuse_bytes(unsigned char *buf, int num) {
  (void)buf;
  (void)num;
  return 0;
}

static int refuse_status(void) { return 0; }

static RAND_METHOD refusing_rand = {NULL, refuse_bytes, NULL, NULL, refuse_bytes, refuse_status};

static int bind(ENGINE *e, const char *id) {
  (void)id;
  return ENGINE_set_id(e, "twinhsm-refusing") && ENGINE_set_name(e, "refuses every request") &&
         ENGINE_set_RAND(e, &refusing_rand);
}

IMPLEMENT_DYNAMIC_BIND_FN(bind)
IMPLEMENT_DYNAMIC_CHECK_FN()
