/*
 * shmkit/chan.h: channels (message queues in shared memory).
 * Included by shmkit.h; do not include it on its own.
 */
#ifndef SHMKIT_CHAN_H
#define SHMKIT_CHAN_H
#endif
