/*
 * peer_boost_heap.cpp: Boost.Interprocess managed_shared_memory as a
 * bench_heap peer (built with -DSHMKIT_BENCH_PEERS=ON when Boost's headers
 * are found; bench_heap.c prints "boost: not built" otherwise).
 *
 * A thin C interface over one managed_shared_memory segment: its default
 * allocator (rbtree_best_fit, one process-shared mutex around every
 * allocate and deallocate) is the classic shared-memory heap that shmkit's
 * is measured against. Each function is one call into Boost's header-only
 * code, so a Boost pair pays one out-of-line call per operation, as a
 * shmkit pair does into the library. No exception crosses into C: a failed
 * create or open returns NULL with Boost's message in err.
 */
#include <boost/interprocess/managed_shared_memory.hpp>
#include <boost/version.hpp>

#include <cstddef>
#include <cstdio>
#include <new>

namespace bip = boost::interprocess;

extern "C" {

const char *bh_boost_version(void);
void *bh_boost_create(const char *name, size_t size, char *err, size_t errlen);
void *bh_boost_open(const char *name, char *err, size_t errlen);
void *bh_boost_alloc(void *seg, size_t size);
void bh_boost_free(void *seg, void *p);
void bh_boost_close(void *seg);
void bh_boost_remove(const char *name);

const char *bh_boost_version(void)
{
	return BOOST_LIB_VERSION;
}

/* name: Boost's plain name (no '/'); it lives in /dev/shm/<name>. */
void *bh_boost_create(const char *name, size_t size, char *err, size_t errlen)
{
	try {
		return new bip::managed_shared_memory(bip::create_only, name,
						      size);
	} catch (const bip::interprocess_exception &e) {
		std::snprintf(err, errlen, "%s", e.what());
	} catch (const std::bad_alloc &) {
		std::snprintf(err, errlen, "out of memory");
	}
	return nullptr;
}

void *bh_boost_open(const char *name, char *err, size_t errlen)
{
	try {
		return new bip::managed_shared_memory(bip::open_only, name);
	} catch (const bip::interprocess_exception &e) {
		std::snprintf(err, errlen, "%s", e.what());
	} catch (const std::bad_alloc &) {
		std::snprintf(err, errlen, "out of memory");
	}
	return nullptr;
}

/* NULL when the segment is full. */
void *bh_boost_alloc(void *seg, size_t size)
{
	return static_cast<bip::managed_shared_memory *>(seg)->allocate(
		size, std::nothrow);
}

void bh_boost_free(void *seg, void *p)
{
	static_cast<bip::managed_shared_memory *>(seg)->deallocate(p);
}

void bh_boost_close(void *seg)
{
	delete static_cast<bip::managed_shared_memory *>(seg);
}

void bh_boost_remove(const char *name)
{
	bip::shared_memory_object::remove(name);
}

} // extern "C"
