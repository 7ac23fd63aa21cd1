// native.h: libzmq and NNG loaded at run time with dlopen, so that a machine
// without either library (or its headers) still builds sockbench and runs the
// other peers.
// Only the few functions the workloads call are declared, with their C
// signatures from zmq.h (4.x) and nng/nng.h (1.x); the loops run in C so that
// a message costs no cgo call.
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// ---- libzmq ----

enum {
	BZ_PUB = 1, BZ_SUB = 2, BZ_REQ = 3, BZ_REP = 4, BZ_PULL = 7, BZ_PUSH = 8,
	BZ_SUBSCRIBE = 6, BZ_LINGER = 17,
};

typedef struct {
	void *lib;
	void *(*ctx_new)(void);
	int (*ctx_term)(void *);
	int (*ctx_shutdown)(void *);
	void *(*socket)(void *, int);
	int (*close)(void *);
	int (*bind)(void *, const char *);
	int (*connect)(void *, const char *);
	int (*send)(void *, const void *, size_t, int);
	int (*recv)(void *, void *, size_t, int);
	int (*setsockopt)(void *, int, const void *, size_t);
	int (*errno_)(void);
	const char *(*strerror)(int);
	void (*version)(int *, int *, int *);
} bz_api;

static bz_api *bz_load(void) {
	const char *names[] = {"libzmq.so.5", "libzmq.so", "libzmq.dylib", NULL};
	void *lib = NULL;
	for (int i = 0; names[i] && !lib; i++) lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!lib) return NULL;
	bz_api *a = calloc(1, sizeof *a);
	if (!a) { dlclose(lib); return NULL; }
	a->lib = lib;
#define BZ_SYM(f, n) *(void **)(&a->f) = dlsym(lib, n); if (!a->f) goto fail;
	BZ_SYM(ctx_new, "zmq_ctx_new")
	BZ_SYM(ctx_term, "zmq_ctx_term")
	BZ_SYM(ctx_shutdown, "zmq_ctx_shutdown")
	BZ_SYM(socket, "zmq_socket")
	BZ_SYM(close, "zmq_close")
	BZ_SYM(bind, "zmq_bind")
	BZ_SYM(connect, "zmq_connect")
	BZ_SYM(send, "zmq_send")
	BZ_SYM(recv, "zmq_recv")
	BZ_SYM(setsockopt, "zmq_setsockopt")
	BZ_SYM(errno_, "zmq_errno")
	BZ_SYM(strerror, "zmq_strerror")
	BZ_SYM(version, "zmq_version")
#undef BZ_SYM
	return a;
fail:
	dlclose(lib);
	free(a);
	return NULL;
}

static int bz_version(bz_api *a) { int x, y, z; a->version(&x, &y, &z); return x * 10000 + y * 100 + z; }
static void *bz_ctx_new(bz_api *a) { return a->ctx_new(); }
static int bz_ctx_term(bz_api *a, void *c) { return a->ctx_term(c) == 0 ? 0 : a->errno_(); }
static int bz_ctx_shutdown(bz_api *a, void *c) { return a->ctx_shutdown(c) == 0 ? 0 : a->errno_(); }
static int bz_close(bz_api *a, void *s) { return a->close(s) == 0 ? 0 : a->errno_(); }
static int bz_bind(bz_api *a, void *s, const char *url) { return a->bind(s, url) == 0 ? 0 : a->errno_(); }
static int bz_connect(bz_api *a, void *s, const char *url) { return a->connect(s, url) == 0 ? 0 : a->errno_(); }
static const char *bz_strerror(bz_api *a, int e) { return a->strerror(e); }
static int bz_setopt(bz_api *a, void *s, int opt, const void *v, size_t n) {
	return a->setsockopt(s, opt, v, n) == 0 ? 0 : a->errno_();
}

// bz_socket opens a socket with no linger (so the context ends at once).
// It sets no send or receive timeout: with one, libzmq waits through
// zmq_poll and a 32-byte round trip takes twice as long. The loops are
// ended by zmq_ctx_shutdown instead, which fails blocked calls with ETERM.
static void *bz_socket(bz_api *a, void *ctx, int type, int *err) {
	void *s = a->socket(ctx, type);
	if (!s) { *err = a->errno_(); return NULL; }
	int zero = 0;
	a->setsockopt(s, BZ_LINGER, &zero, sizeof zero);
	*err = 0;
	return s;
}

#define STOPPED(stop) __atomic_load_n((stop), __ATOMIC_RELAXED)
#define PUBLISH(count, n) __atomic_store_n((count), (n), __ATOMIC_RELAXED)
#define RETRY(e) ((e) == EAGAIN || (e) == EINTR)

static int bz_send_loop(bz_api *a, void *s, const void *msg, size_t n, int32_t *stop, uint64_t *count) {
	uint64_t c = 0;
	while (!STOPPED(stop)) {
		if (a->send(s, msg, n, 0) < 0) {
			int e = a->errno_();
			if (RETRY(e)) continue;
			return e;
		}
		PUBLISH(count, ++c);
	}
	return 0;
}

// The receive loops return -1 for a message of the wrong size.
static int bz_recv_loop(bz_api *a, void *s, size_t n, int32_t *stop, uint64_t *count) {
	char buf[4096];
	uint64_t c = 0;
	while (!STOPPED(stop)) {
		int r = a->recv(s, buf, sizeof buf, 0);
		if (r < 0) {
			int e = a->errno_();
			if (RETRY(e)) continue;
			return e;
		}
		if ((size_t)r != n) return -1;
		PUBLISH(count, ++c);
	}
	return 0;
}

static int bz_req_loop(bz_api *a, void *s, const void *msg, size_t n, int32_t *stop, uint64_t *count) {
	char buf[4096];
	uint64_t c = 0;
	while (!STOPPED(stop)) {
		if (a->send(s, msg, n, 0) < 0) {
			int e = a->errno_();
			if (RETRY(e)) continue;
			return e;
		}
		for (;;) {
			int r = a->recv(s, buf, sizeof buf, 0);
			if (r >= 0) {
				if ((size_t)r != n) return -1;
				break;
			}
			int e = a->errno_();
			if (!RETRY(e)) return e;
			if (STOPPED(stop)) return 0;
		}
		PUBLISH(count, ++c);
	}
	return 0;
}

static int bz_rep_loop(bz_api *a, void *s, size_t n, int32_t *stop, uint64_t *count) {
	char buf[4096];
	uint64_t c = 0;
	while (!STOPPED(stop)) {
		int r = a->recv(s, buf, sizeof buf, 0);
		if (r < 0) {
			int e = a->errno_();
			if (RETRY(e)) continue;
			return e;
		}
		if ((size_t)r != n) return -1;
		for (;;) {
			if (a->send(s, buf, n, 0) >= 0) break;
			int e = a->errno_();
			if (!RETRY(e)) return e;
			if (STOPPED(stop)) return 0;
		}
		PUBLISH(count, ++c);
	}
	return 0;
}

// ---- NNG ----

typedef struct { uint32_t id; } bn_socket;
typedef struct { uint32_t id; } bn_endpoint;

enum { BN_EINTR = 1, BN_ETIMEDOUT = 5, BN_ECLOSED = 7, BN_EAGAIN = 8 };
#define BN_RETRY(e) ((e) == BN_ETIMEDOUT || (e) == BN_EAGAIN || (e) == BN_EINTR)

typedef struct {
	void *lib;
	int (*open[6])(bn_socket *); // indexed by the Go Kind: push pull req rep pub sub
	int (*close)(bn_socket);
	int (*listen)(bn_socket, const char *, bn_endpoint *, int);
	int (*dial)(bn_socket, const char *, bn_endpoint *, int);
	int (*send)(bn_socket, void *, size_t, int);
	int (*recv)(bn_socket, void *, size_t *, int);
	int (*set)(bn_socket, const char *, const void *, size_t);
	const char *(*strerror)(int);
	const char *(*version)(void);
} bn_api;

static bn_api *bn_load(void) {
	const char *names[] = {"libnng.so.1", "libnng.so", "libnng.dylib", NULL};
	void *lib = NULL;
	for (int i = 0; names[i] && !lib; i++) lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!lib) return NULL;
	bn_api *a = calloc(1, sizeof *a);
	if (!a) { dlclose(lib); return NULL; }
	a->lib = lib;
#define BN_SYM(f, n) *(void **)(&a->f) = dlsym(lib, n); if (!a->f) goto fail;
	BN_SYM(open[0], "nng_push0_open")
	BN_SYM(open[1], "nng_pull0_open")
	BN_SYM(open[2], "nng_req0_open")
	BN_SYM(open[3], "nng_rep0_open")
	BN_SYM(open[4], "nng_pub0_open")
	BN_SYM(open[5], "nng_sub0_open")
	BN_SYM(close, "nng_close")
	BN_SYM(listen, "nng_listen")
	BN_SYM(dial, "nng_dial")
	BN_SYM(send, "nng_send")
	BN_SYM(recv, "nng_recv")
	BN_SYM(set, "nng_socket_set")
	BN_SYM(strerror, "nng_strerror")
	BN_SYM(version, "nng_version")
#undef BN_SYM
	return a;
fail:
	dlclose(lib);
	free(a);
	return NULL;
}

static const char *bn_version(bn_api *a) { return a->version(); }
static const char *bn_strerror(bn_api *a, int e) { return a->strerror(e); }

// bn_open opens a socket of the Go Kind k with NNG's default options. The
// loops are ended by nng_close, which is safe from another thread and fails
// blocked calls with NNG_ECLOSED.
static int bn_open(bn_api *a, int k, uint32_t *id) {
	bn_socket s;
	if (k < 0 || k > 5) return BN_EAGAIN;
	int e = a->open[k](&s);
	if (e) return e;
	*id = s.id;
	return 0;
}

static int bn_close(bn_api *a, uint32_t id) { bn_socket s = {id}; return a->close(s); }
static int bn_listen(bn_api *a, uint32_t id, const char *url) { bn_socket s = {id}; return a->listen(s, url, NULL, 0); }
static int bn_dial(bn_api *a, uint32_t id, const char *url) { bn_socket s = {id}; return a->dial(s, url, NULL, 0); }
static int bn_subscribe(bn_api *a, uint32_t id, const void *t, size_t n) {
	bn_socket s = {id};
	return a->set(s, "sub:subscribe", t, n);
}

static int bn_send_loop(bn_api *a, uint32_t id, void *msg, size_t n, int32_t *stop, uint64_t *count) {
	bn_socket s = {id};
	uint64_t c = 0;
	while (!STOPPED(stop)) {
		int e = a->send(s, msg, n, 0);
		if (e) {
			if (BN_RETRY(e)) continue;
			return e;
		}
		PUBLISH(count, ++c);
	}
	return 0;
}

static int bn_recv_loop(bn_api *a, uint32_t id, size_t n, int32_t *stop, uint64_t *count) {
	bn_socket s = {id};
	char buf[4096];
	uint64_t c = 0;
	while (!STOPPED(stop)) {
		size_t sz = sizeof buf;
		int e = a->recv(s, buf, &sz, 0);
		if (e) {
			if (BN_RETRY(e)) continue;
			return e;
		}
		if (sz != n) return -1;
		PUBLISH(count, ++c);
	}
	return 0;
}

static int bn_req_loop(bn_api *a, uint32_t id, void *msg, size_t n, int32_t *stop, uint64_t *count) {
	bn_socket s = {id};
	char buf[4096];
	uint64_t c = 0;
	while (!STOPPED(stop)) {
		int e = a->send(s, msg, n, 0);
		if (e) {
			if (BN_RETRY(e)) continue;
			return e;
		}
		for (;;) {
			size_t sz = sizeof buf;
			e = a->recv(s, buf, &sz, 0);
			if (!e) {
				if (sz != n) return -1;
				break;
			}
			if (!BN_RETRY(e)) return e;
			if (STOPPED(stop)) return 0;
		}
		PUBLISH(count, ++c);
	}
	return 0;
}

static int bn_rep_loop(bn_api *a, uint32_t id, size_t n, int32_t *stop, uint64_t *count) {
	bn_socket s = {id};
	char buf[4096];
	uint64_t c = 0;
	while (!STOPPED(stop)) {
		size_t sz = sizeof buf;
		int e = a->recv(s, buf, &sz, 0);
		if (e) {
			if (BN_RETRY(e)) continue;
			return e;
		}
		if (sz != n) return -1;
		for (;;) {
			e = a->send(s, buf, n, 0);
			if (!e) break;
			if (!BN_RETRY(e)) return e;
			if (STOPPED(stop)) return 0;
		}
		PUBLISH(count, ++c);
	}
	return 0;
}
