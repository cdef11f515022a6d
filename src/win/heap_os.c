/*
 * heap_os.c (Windows): what a heap needs from the system (src/heap/heap_os.h).
 *
 * A growable heap is a file: segment. Growth makes the file longer
 * (SetFileInformationByHandle, which NTFS backs at once, so a full disk is
 * -ENOMEM at growth, never a fault at a touch) and maps the new part with
 * a view of its own: a mapping object over the whole file as it is now,
 * MapViewOfFile at the part's offset, and the mapping handle closed at
 * once (the view keeps the section). Parts start at multiples of the
 * 64 KiB allocation granularity (HEAP_GRAIN), as MapViewOfFile requires,
 * and views start at such addresses, so alloc_aligned can promise 64 KiB
 * without placing anything. A part that lies within the segment's own
 * view (every part there was when this process attached) is used there,
 * with no view of its own. Nothing is ever moved or unmapped while the
 * handle is open, so refs and pointers stay valid across growth.
 *
 * win: heaps do not grow: each part would have to be a named mapping of
 * its own, and a named mapping dies with its last handle, so a process
 * that had not mapped a new part yet could find it gone once the process
 * that made it closed the heap. The heap would have lost memory it still
 * lists. docs/heap.md says so.
 *
 * A process is its id and its creation time (GetProcessTimes), which tells
 * a reused id from the process that had it; there is no pid namespace.
 * There is no fork either, so the fork generation never changes.
 */
#include "../heap/heap_os.h"
#include "win_int.h"

unsigned long shmkit__heap_forkgen = 1;

void shmkit__heap_os_init(void)
{
}

bool shmkit__heap_os_growable(const shmkit_seg *seg)
{
	return seg->file != NULL;
}

int shmkit__heap_os_map(shmkit_heap *h, unsigned part, uint64_t fileoff,
			uint64_t size)
{
	shmkit_seg *seg = h->seg;
	HANDLE m;
	void *p;

	if (fileoff % HEAP_GRAIN)
		return -EPROTO;
	if (fileoff <= seg->size && size <= seg->size - fileoff) {
		h->base[part] = (char *)seg->addr + fileoff;
		h->unmap[part] = false;
	} else {
		m = CreateFileMappingW(seg->file, NULL, PAGE_READWRITE, 0, 0,
				       NULL);
		if (!m)
			return shmkit__win_last();
		p = MapViewOfFile(m, FILE_MAP_WRITE, (DWORD)(fileoff >> 32),
				  (DWORD)fileoff, (SIZE_T)size);
		if (!p) {
			int r = shmkit__win_last();
			CloseHandle(m);
			return r;
		}
		CloseHandle(m);
		/* A mutex in this part is the segment's (views.c). */
		if (shmkit__win_view_add(seg, p, (size_t)size) < 0) {
			UnmapViewOfFile(p);
			return -ENOMEM;
		}
		h->base[part] = p;
		h->unmap[part] = true;
	}
	set_psize(h, part, size);
	return 0;
}

void shmkit__heap_os_unmap(shmkit_heap *h, unsigned part)
{
	if (h->unmap[part] && h->base[part]) {
		shmkit__win_view_remove(h->base[part]);
		UnmapViewOfFile(h->base[part]);
	}
}

int shmkit__heap_os_size(shmkit_heap *h, uint64_t *ret)
{
	LARGE_INTEGER len;

	if (!GetFileSizeEx(h->seg->file, &len))
		return shmkit__win_last();
	*ret = (uint64_t)len.QuadPart;
	return 0;
}

int shmkit__heap_os_extend(shmkit_heap *h, uint64_t fo, uint64_t want,
			   bool reserve)
{
	FILE_END_OF_FILE_INFO eof;
	uint64_t size = 0;
	int r;

	(void)reserve; /* extending a file backs it (file: has no NORESERVE) */
	if ((r = shmkit__heap_os_size(h, &size)) < 0)
		return r;
	if (fo + want > (uint64_t)INT64_MAX)
		return -ENOMEM;
	if (size >= fo + want)
		return 0; /* a grower that died left it longer: reuse */
	eof.EndOfFile.QuadPart = (LONGLONG)(fo + want);
	if (!SetFileInformationByHandle(h->seg->file, FileEndOfFileInfo, &eof,
					sizeof(eof)))
		return -ENOMEM;
	return 0;
}

int shmkit__heap_os_peek(shmkit_seg *seg, uint64_t *ret)
{
	/* A mapped file cannot be cut short on Windows: the view is safe. */
	if (shmkit_size(seg) < 8)
		return -EPROTO;
	*ret = __atomic_load_n((const uint64_t *)shmkit_addr(seg),
			       __ATOMIC_ACQUIRE);
	return 0;
}

uint64_t shmkit__heap_os_random(void)
{
	uint64_t s = 0;
	LARGE_INTEGER t;

	if (shmkit__win_random(&s, sizeof(s)) == 0)
		return s;
	QueryPerformanceCounter(&t);
	return ((uint64_t)t.QuadPart << 20) ^ GetTickCount64() ^
	       ((uint64_t)GetCurrentProcessId() << 40);
}

/* The creation time of process p (100 ns units since 1601), 0 if unknown. */
static uint64_t created(HANDLE p)
{
	FILETIME c, e, k, u;

	if (!GetProcessTimes(p, &c, &e, &k, &u))
		return 0;
	return ((uint64_t)c.dwHighDateTime << 32) | c.dwLowDateTime;
}

void shmkit__heap_os_self(uint64_t *pid, uint64_t *start, uint64_t *ns)
{
	*pid = GetCurrentProcessId();
	*start = created(GetCurrentProcess());
	*ns = 0;
}

bool shmkit__heap_os_alive(uint64_t pid, uint64_t start, uint64_t ns)
{
	HANDLE p;
	DWORD code;
	bool alive, sync;
	uint64_t now;

	(void)ns;
	if (pid == 0 || pid > UINT32_MAX)
		return false;
	/* A process object outlives its process while handles to it stay
	 * open: ask whether it has exited, by waiting on it where we may
	 * (an exit code of 259 would look like STILL_ACTIVE). */
	sync = true;
	p = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE, FALSE,
			(DWORD)pid);
	if (!p && GetLastError() == ERROR_ACCESS_DENIED) {
		sync = false;
		p = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE,
				(DWORD)pid);
	}
	if (!p)
		/* No such process; any other refusal (another user's, a
		 * protected one): cannot tell, so it lives. */
		return GetLastError() != ERROR_INVALID_PARAMETER;
	if (sync)
		alive = WaitForSingleObject(p, 0) == WAIT_TIMEOUT;
	else
		alive = GetExitCodeProcess(p, &code) ? code == STILL_ACTIVE : true;
	if (alive && start) {
		now = created(p);
		if (now && now != start)
			alive = false; /* a new process with the same id */
	}
	CloseHandle(p);
	return alive;
}
