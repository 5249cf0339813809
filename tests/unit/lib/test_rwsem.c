// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Description: struct rwsem's lockdep-style checks in debug builds.  Read
 * holds nest in one thread and are shared between threads; every misuse
 * that glibc's rwlock would swallow (a reader count going below zero, a
 * writer released by another thread) aborts instead: an up_read by a
 * thread that holds no read side, an up_write by a thread that is not the
 * writer, a write lock taken over one's own read hold, and destroying a
 * lock that is still held (the inode freed under a reader, the stress
 * hang's cause).  In Release builds the checks are compiled out and these
 * cases do not run.
 */
#include <check.h>
#include "unit.h"
#include <iomapfs/rwsem.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

static struct rwsem sem;

static void *read_in_thread(void *arg)
{
	down_read(&sem);
	up_read(&sem);
	return NULL;
}

START_TEST(read_holds_nest_and_are_shared)
{
	pthread_t t;

	rwsem_init(&sem);
	down_read(&sem);
	down_read(&sem);		/* op_read, then fs_read inside */
	ck_assert_int_eq(pthread_create(&t, NULL, read_in_thread, NULL), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	up_read(&sem);
	up_read(&sem);
	down_write(&sem);
	up_write(&sem);
	rwsem_destroy(&sem);
}
END_TEST

#ifdef IOMAPFS_DEBUG_LOCKS
START_TEST(up_read_without_a_hold_aborts)
{
	rwsem_init(&sem);
	up_read(&sem);
}
END_TEST

static void *write_in_thread(void *arg)
{
	down_write(&sem);
	return NULL;
}

START_TEST(up_write_by_another_thread_aborts)
{
	pthread_t t;

	rwsem_init(&sem);
	ck_assert_int_eq(pthread_create(&t, NULL, write_in_thread, NULL), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	up_write(&sem);
}
END_TEST

START_TEST(write_over_own_read_hold_aborts)
{
	rwsem_init(&sem);
	down_read(&sem);
	down_write(&sem);		/* would wait for itself forever */
}
END_TEST

START_TEST(destroy_while_read_held_aborts)
{
	struct rwsem *s = malloc(sizeof(*s));

	rwsem_init(s);
	down_read(s);			/* a read reply still being sent */
	rwsem_destroy(s);		/* ...and the inode freed under it */
}
END_TEST
#endif

int main(void)
{
	Suite *s = suite_create("rwsem");
	TCase *tc = tcase_create("rwsem");

	tcase_add_test(tc, read_holds_nest_and_are_shared);
#ifdef IOMAPFS_DEBUG_LOCKS
	tcase_add_test_raise_signal(tc, up_read_without_a_hold_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, up_write_by_another_thread_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, write_over_own_read_hold_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, destroy_while_read_held_aborts, SIGABRT);
#endif
	suite_add_tcase(s, tc);
	return unit_run(s, NULL);
}
