// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Error injection on a live device (blk_inject_*, include/iomapfs/bio.h):
 * a backend stacked over whatever the device had (blk_dev_push_ops) that
 * fails chosen bios with -EIO through bi_inject_status, so they complete
 * in the reaper exactly like a device error.  It mirrors XFS's errortag
 * knobs (a class of I/O, fail the Nth or a share of them) and the kernel's
 * fail_make_request (a sector range), and it is always built in: a mounted
 * filesystem is tested as it runs, without a special build.
 *
 * One rule per class.  Submission (task context) and blk_inject_set() take
 * inj->lock; a bio is only looked at when some rule is set (inj->armed), so
 * an idle injector costs one atomic load per bio.
 */
#include "blk.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

enum inject_class {
	INJ_DATA_READ, INJ_DATA_WRITE, INJ_META_READ, INJ_META_WRITE,
	INJ_JOURNAL_WRITE, INJ_FLUSH, INJ_NR
};

static const char *const class_names[INJ_NR] = {
	"data_read", "data_write", "meta_read", "meta_write", "journal_write", "flush",
};

enum inject_mode { INJ_OFF, INJ_NTH, INJ_EVERY, INJ_PROB };

struct inject_rule {
	enum inject_mode mode;
	uint64_t	nth;		/* INJ_NTH: 1-based, counted from the set */
	double		prob;		/* INJ_PROB */
	uint64_t	seed, rng;	/* INJ_PROB: xorshift64* state */
	uint64_t	sec_lo, sec_hi;	/* inclusive; 0..UINT64_MAX: any */
	uint64_t	seen;		/* matching bios since the rule was set */
	uint64_t	hits;		/* bios failed */
};

struct blk_inject {
	struct blk_dev_layer	lower;
	pthread_mutex_t		lock;	/* the rules; task context only */
	atomic_uint		armed;	/* rules set */
	struct inject_rule	rule[INJ_NR];
};

/* The class a bio belongs to, or INJ_NR for none. */
static unsigned bio_inject_class(const struct bio *bio)
{
	bool w = bio->bi_op == REQ_OP_WRITE;

	if (bio->bi_op == REQ_OP_FLUSH)
		return INJ_FLUSH;
	switch (bio->bi_class) {
	case BIO_CLASS_DATA:	return w ? INJ_DATA_WRITE : INJ_DATA_READ;
	case BIO_CLASS_META:	return w ? INJ_META_WRITE : INJ_META_READ;
	case BIO_CLASS_JOURNAL:	return w ? INJ_JOURNAL_WRITE : INJ_NR;
	default:		return INJ_NR;
	}
}

/* Under inj->lock: does @r fail @bio?  Counts it either way. */
static bool rule_fires(struct inject_rule *r, const struct bio *bio)
{
	uint64_t end = bio->bi_sector + (bio->bi_size ? (bio->bi_size - 1) >> SECTOR_SHIFT : 0);
	bool fire = false;

	if (r->mode == INJ_OFF || end < r->sec_lo || bio->bi_sector > r->sec_hi)
		return false;
	r->seen++;
	switch (r->mode) {
	case INJ_NTH:	fire = r->seen == r->nth; break;
	case INJ_EVERY:	fire = true; break;
	case INJ_PROB:	fire = (xorshift64s(&r->rng) >> 11) * 0x1p-53 < r->prob; break;
	case INJ_OFF:	break;
	}
	r->hits += fire;
	return fire;
}

/* Task context: the ->submit of the injecting layer. */
static void inject_submit(struct blk_dev *dev, struct bio *bio)
{
	struct blk_inject *inj = blk_dev_ops_private(dev);
	unsigned cls;

	if (atomic_load_explicit(&inj->armed, memory_order_relaxed) &&
	    (cls = bio_inject_class(bio)) < INJ_NR) {
		pthread_mutex_lock(&inj->lock);
		if (rule_fires(&inj->rule[cls], bio))
			bio->bi_inject_status = -EIO;
		pthread_mutex_unlock(&inj->lock);
	}
	blk_dev_submit_lower(dev, &inj->lower, bio);
}

static const struct blk_dev_ops inject_ops = { .submit = inject_submit };

struct blk_inject *blk_inject_attach(struct blk_dev *dev)
{
	struct blk_inject *inj = kzalloc(sizeof(*inj));

	pthread_mutex_init(&inj->lock, NULL);
	blk_dev_push_ops(dev, &inject_ops, inj, &inj->lower);
	return inj;
}

void blk_inject_free(struct blk_inject *inj)
{
	if (!inj)
		return;
	pthread_mutex_destroy(&inj->lock);
	kfree(inj);
}

/* ---- the spec ---- */

struct inject_spec {
	int		cls;		/* -1: none given */
	bool		off;
	struct inject_rule rule;
};

static int parse_class(const char *name)
{
	for (int i = 0; i < INJ_NR; i++)
		if (!strcmp(name, class_names[i]))
			return i;
	return -EINVAL;
}

static int parse_range(const char *v, struct inject_rule *r)
{
	char lo[32], *dash = strchr(v, '-');

	if (!dash || dash - v >= (long)sizeof(lo))
		return -EINVAL;
	memcpy(lo, v, dash - v);
	lo[dash - v] = '\0';
	if (parse_u64_arg(lo, &r->sec_lo) || parse_u64_arg(dash + 1, &r->sec_hi) ||
	    r->sec_lo > r->sec_hi)
		return -EINVAL;
	return 0;
}

static int parse_prob(const char *v, struct inject_rule *r)
{
	char *end;

	errno = 0;
	r->prob = strtod(v, &end);
	if (errno || *end || !isfinite(r->prob) || r->prob < 0 || r->prob > 1)
		return -EINVAL;
	r->mode = INJ_PROB;
	return 0;
}

/* One word of the spec. */
static int parse_word(struct inject_spec *sp, char *w)
{
	struct inject_rule *r = &sp->rule;
	char *v = strchr(w, '=');

	if (v)
		*v++ = '\0';
	if (!strcmp(w, "off") && !v)
		sp->off = true;
	else if (!strcmp(w, "every") && !v)
		r->mode = INJ_EVERY;
	else if (!v)
		return -EINVAL;
	else if (!strcmp(w, "class"))
		return (sp->cls = parse_class(v)) < 0 ? -EINVAL : 0;
	else if (!strcmp(w, "nth"))
		return parse_u64_arg(v, &r->nth) || !r->nth ? -EINVAL : (r->mode = INJ_NTH, 0);
	else if (!strcmp(w, "prob"))
		return parse_prob(v, r);
	else if (!strcmp(w, "seed"))
		return parse_u64_arg(v, &r->seed);
	else if (!strcmp(w, "sector"))
		return parse_range(v, r);
	else
		return -EINVAL;
	return 0;
}

static int parse_spec(const char *spec, struct inject_spec *sp)
{
	char *copy = strdup(spec), *save, *w;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	*sp = (struct inject_spec){ .cls = -1, .rule.sec_hi = UINT64_MAX };
	for (w = strtok_r(copy, " ,\t\n", &save); w && !err; w = strtok_r(NULL, " ,\t\n", &save))
		err = parse_word(sp, w);
	free(copy);
	if (err)
		return err;
	if (sp->off)	/* "off" or "class=C off", nothing else */
		return sp->rule.mode == INJ_OFF && sp->rule.sec_hi == UINT64_MAX ? 0 : -EINVAL;
	if (sp->cls < 0)
		return -EINVAL;
	if (sp->rule.mode == INJ_OFF)	/* a sector range alone: every bio in it */
		sp->rule.mode = sp->rule.sec_hi != UINT64_MAX || sp->rule.sec_lo ? INJ_EVERY : INJ_OFF;
	if (sp->rule.mode == INJ_OFF)
		return -EINVAL;
	sp->rule.rng = sp->rule.seed ? sp->rule.seed : 0x9E3779B97F4A7C15ull;
	return 0;
}

int blk_inject_set(struct blk_inject *inj, const char *spec)
{
	struct inject_spec sp;
	unsigned armed = 0;
	int err = parse_spec(spec, &sp);

	if (err)
		return err;
	pthread_mutex_lock(&inj->lock);
	for (int i = 0; i < INJ_NR; i++) {
		if (sp.off && (sp.cls < 0 || sp.cls == i))
			inj->rule[i].mode = INJ_OFF;
		else if (!sp.off && sp.cls == i)
			inj->rule[i] = sp.rule;
		armed += inj->rule[i].mode != INJ_OFF;
	}
	atomic_store(&inj->armed, armed);
	pthread_mutex_unlock(&inj->lock);
	return 0;
}

static int show_rule(const struct inject_rule *r, const char *name, char *buf, size_t len)
{
	char mode[64], range[48] = "";

	switch (r->mode) {
	case INJ_NTH:	snprintf(mode, sizeof(mode), "nth=%llu", (unsigned long long)r->nth); break;
	case INJ_PROB:	snprintf(mode, sizeof(mode), "prob=%g seed=%llu", r->prob,
				 (unsigned long long)r->seed); break;
	default:	snprintf(mode, sizeof(mode), "every"); break;
	}
	if (r->sec_lo || r->sec_hi != UINT64_MAX)
		snprintf(range, sizeof(range), " sector=%llu-%llu",
			 (unsigned long long)r->sec_lo, (unsigned long long)r->sec_hi);
	return snprintf(buf, len, "class=%s %s%s seen=%llu hits=%llu\n", name, mode, range,
			(unsigned long long)r->seen, (unsigned long long)r->hits);
}

int blk_inject_show(struct blk_inject *inj, char *buf, size_t len)
{
	int n = 0;

	if (len)
		buf[0] = '\0';
	pthread_mutex_lock(&inj->lock);
	for (int i = 0; i < INJ_NR; i++) {
		if (inj->rule[i].mode == INJ_OFF)
			continue;
		n += show_rule(&inj->rule[i], class_names[i], buf + min_t(size_t, n, len),
			       len - min_t(size_t, n, len));
	}
	pthread_mutex_unlock(&inj->lock);
	return n;
}
