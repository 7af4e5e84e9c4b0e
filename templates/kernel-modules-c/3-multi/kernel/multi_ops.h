/* SPDX-License-Identifier: GPL-2.0 */
/* kernel-modules-c lab, task 3: what multi_ops.c offers multi_main.c. */
#ifndef MULTI_OPS_H
#define MULTI_OPS_H

/* The greatest common divisor of @a and @b (both non-zero). */
unsigned int multi_gcd(unsigned int a, unsigned int b);

#endif
