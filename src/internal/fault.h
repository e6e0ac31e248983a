#ifndef ORDERD_INTERNAL_FAULT_H
#define ORDERD_INTERNAL_FAULT_H

/*
 * Test hooks at named points of the journal (docs/journal.md, "Why a crash at
 * each step is safe"). The library only calls them; which definition a
 * program gets is chosen when it is linked:
 *
 * - src/fault_off.c, linked into the production `orderd` (and the bench
 *   tools): both do nothing, and nothing reads the environment;
 * - tests/fault/fault_hooks.c, linked into the unit tests and into
 *   `orderd-faults` (the server the crash tests run): they act on
 *   ORDERD_FAULT_POINT and ORDERD_FAULT_PAUSE as described below.
 */

/** Exits the process (status 86) at the point `name` when ORDERD_FAULT_POINT names it. */
void orderd_fault_point(const char *name);

/** With ORDERD_FAULT_PAUSE=NAME:MS[,NAME:MS...], sleeps MS milliseconds at the
 * point NAME, to put two threads' steps in a chosen order. */
void orderd_fault_pause(const char *name);

#endif
