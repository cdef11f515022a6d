/*
 * fdpass.c: hand a segment's descriptor to another process over an AF_UNIX
 * socket (SCM_RIGHTS), with enough to describe it: the sender's spec and
 * backend. This is how memfd segments, which have no global name, reach
 * unrelated processes.
 *
 * Wire format (host byte order: both ends are on one host):
 *   u32 magic (FD_MAGIC), u32 backend, u32 spec_len, u32 reserved, spec.
 * The size is not sent: the receiver learns it from the descriptor (fstat),
 * so a lying sender cannot make us map past the object's end.
 *
 * On stream sockets the header and the spec are read with separate exact
 * reads so that two messages sent back to back are never mixed up; on
 * datagram and seqpacket sockets the whole message is one read. Any extra
 * descriptors that arrive are closed; received descriptors are close-on-exec
 * from birth (MSG_CMSG_CLOEXEC).
 */
#include "../internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FD_MAGIC 0x444b4653u /* "SFKD" little-endian */

struct wire_hdr {
	uint32_t magic;
	uint32_t backend;
	uint32_t spec_len;
	uint32_t reserved;
};

int shmkit_send_fd(int sock, const shmkit_seg *seg)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct wire_hdr h;
	struct iovec iov[2];
	struct msghdr msg;
	struct cmsghdr *cm;
	ssize_t n;
	size_t total;

	if (!seg)
		return -EINVAL;
	if (seg->fd < 0)
		return -EBADF;
	h.magic = FD_MAGIC;
	h.backend = (uint32_t)seg->reported;
	h.spec_len = (uint32_t)strlen(seg->spec);
	h.reserved = 0;
	iov[0].iov_base = &h;
	iov[0].iov_len = sizeof(h);
	iov[1].iov_base = (void *)seg->spec;
	iov[1].iov_len = h.spec_len;
	total = sizeof(h) + h.spec_len;

	memset(&msg, 0, sizeof(msg));
	memset(&ctl, 0, sizeof(ctl));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &seg->fd, sizeof(int));

	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != total)
		return -EMSGSIZE; /* a stream socket took part of it */
	return 0;
}

/* Close every descriptor in the control data, keeping the first in *fd. */
static void take_fds(struct msghdr *msg, int *fd)
{
	struct cmsghdr *cm;

	for (cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		size_t i, nfd;
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			int f;
			memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*fd < 0)
				*fd = f;
			else
				shmkit__close(f);
		}
	}
}

static int read_exact(int sock, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = recv(sock, p, len, MSG_WAITALL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPROTO; /* peer hung up mid-message */
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int shmkit_recv_fd(int sock, const shmkit_opts *opts, shmkit_seg **ret_seg)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 8)];
	} ctl;
	struct {
		struct wire_hdr h;
		char spec[SHMKIT_SPEC_MAX];
	} m;
	struct iovec iov;
	struct msghdr msg;
	socklen_t tlen = sizeof(int);
	shmkit_seg *seg = NULL;
	int type, fd = -1, r;
	ssize_t n;
	char spec[32];

	if (!ret_seg)
		return -EINVAL;
	if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0)
		return -errno;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = &m;
	iov.iov_len = type == SOCK_STREAM ? sizeof(m.h) : sizeof(m);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC |
					(type == SOCK_STREAM ? MSG_WAITALL : 0));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	take_fds(&msg, &fd);
	if (n == 0) {
		r = -ECONNRESET;
		goto fail;
	}
	if ((size_t)n < sizeof(m.h) || m.h.magic != FD_MAGIC ||
	    m.h.spec_len >= sizeof(m.spec) || (msg.msg_flags & MSG_CTRUNC) ||
	    fd < 0) {
		r = -EPROTO;
		goto fail;
	}
	if (type == SOCK_STREAM) {
		r = read_exact(sock, m.spec, m.h.spec_len);
		if (r < 0)
			goto fail;
	} else if ((size_t)n != sizeof(m.h) + m.h.spec_len) {
		r = -EPROTO;
		goto fail;
	}
	m.spec[m.h.spec_len] = '\0';

	/* Attach through the fd: backend, which duplicates; then report what
	 * the sender said it was. */
	snprintf(spec, sizeof(spec), "fd:%d", fd);
	r = shmkit_attach(spec, opts, &seg);
	if (r < 0)
		goto fail;
	shmkit__close(fd);
	if (m.h.backend > SHMKIT_BACKEND_NONE &&
	    m.h.backend < SHMKIT_BACKEND_COUNT_ && m.h.spec_len > 0) {
		seg->reported = (shmkit_backend)m.h.backend;
		memcpy(seg->spec, m.spec, m.h.spec_len + 1);
	}
	*ret_seg = seg;
	return 0;
fail:
	shmkit__close(fd);
	return r;
}
