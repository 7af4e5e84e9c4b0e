// SPDX-License-Identifier: GPL-2.0
/*
 * kernel-modules-c lab, task 3: the second source file of the `multi` module.
 * kbuild compiles it and multi_main.c separately and links both objects into
 * multi.ko, so the function below needs no EXPORT_SYMBOL: it is in the same
 * module.
 */
#include <linux/kernel.h>

#include "multi_ops.h"

unsigned int multi_gcd(unsigned int a, unsigned int b)
{
	/* TODO 1/7: Euclid's algorithm: replace (a, b) by (b, a mod b) until b is 0;
	 * a is the answer
	 */
	while (b) {
		unsigned int rest = a % b;

		a = b;
		b = rest;
	}
	return a;
	return 0;
}
