// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Counters for iomapfs-stat: bios, bytes, errors, where completions ran,
 * deferrals by reason, worker batch sizes, and a histogram of the deferral
 * latency (bio_complete_in_task() -> ->bi_end_io in the worker) giving p50
 * and p99 in microseconds.  All counters are relaxed atomics: they are
 * read for display, never to synchronise.
 *
 * The histogram is log-linear: exact below 16 us, then 8 buckets per power
 * of two, so a reported percentile is within 1/16 of the true value.  It is
 * exported folded into log2 buckets (defer_hist_<lower bound>us), which is
 * what iomapfs-stat --hist and tools/plot-deferral.sh draw.
 */
#include "blk.h"

#include <string.h>

static unsigned lat_bucket(uint64_t us)
{
	unsigned b, idx;

	if (us < 16)
		return us;
	b = 63 - __builtin_clzll(us);
	idx = 16 + (b - 4) * 8 + ((us >> (b - 3)) & 7);
	return min_t(unsigned, idx, BLK_LAT_BUCKETS - 1);
}

/* The middle of a bucket, the value reported for it. */
static uint64_t lat_bucket_value(unsigned idx)
{
	unsigned b, sub;

	if (idx < 16)
		return idx;
	b = (idx - 16) / 8 + 4;
	sub = (idx - 16) % 8;
	return ((8ull + sub) << (b - 3)) + (1ull << (b - 3)) / 2;
}

/* Worker (or a caller draining an offline worker). */
void blk_stats_record_defer_latency(struct blk_dev *dev, uint64_t ns)
{
	uint64_t us = ns / 1000;
	uint_fast64_t max = atomic_load_explicit(&dev->stats.lat_max_us, memory_order_relaxed);

	blk_count(&dev->stats.lat[lat_bucket(us)], 1);
	while (us > max && !atomic_compare_exchange_weak_explicit(&dev->stats.lat_max_us,
								   &max, us,
								   memory_order_relaxed,
								   memory_order_relaxed))
		;
}

/* The log2 bucket of log-linear bucket @idx: floor(log2(us)), 0 for us < 2. */
static unsigned lat_bucket_log2(unsigned idx)
{
	unsigned k;

	if (idx < 16)
		k = idx < 2 ? 0 : 31 - __builtin_clz(idx);
	else
		k = (idx - 16) / 8 + 4;
	return min_t(unsigned, k, BLK_LAT_LOG2_BUCKETS - 1);
}

static uint64_t lat_percentile(const uint64_t *hist, uint64_t total, unsigned pct,
			       uint64_t max)
{
	uint64_t rank = DIV_ROUND_UP(total * pct, 100), seen = 0;
	unsigned i;

	if (!total)
		return 0;
	for (i = 0; i < BLK_LAT_BUCKETS; i++) {
		seen += hist[i];
		if (seen >= rank)
			return min_t(uint64_t, lat_bucket_value(i), max);
	}
	return max;
}

#define LOAD(c)	atomic_load_explicit(&(c), memory_order_relaxed)

static void blk_stats_latency(struct blk_dev *dev, struct blk_stats *st)
{
	uint64_t hist[BLK_LAT_BUCKETS], total = 0;
	unsigned i;

	memset(st->defer_lat_log2, 0, sizeof(st->defer_lat_log2));
	for (i = 0; i < BLK_LAT_BUCKETS; i++) {
		hist[i] = LOAD(dev->stats.lat[i]);
		total += hist[i];
		st->defer_lat_log2[lat_bucket_log2(i)] += hist[i];
	}
	st->defer_lat_max_us = LOAD(dev->stats.lat_max_us);
	st->defer_lat_p50_us = lat_percentile(hist, total, 50, st->defer_lat_max_us);
	st->defer_lat_p99_us = lat_percentile(hist, total, 99, st->defer_lat_max_us);
}

void blk_dev_get_stats(struct blk_dev *dev, struct blk_stats *st)
{
	const struct blk_dev_counters *c = &dev->stats;

	st->bios_submitted = LOAD(c->bios_submitted);
	st->bios_completed = LOAD(c->bios_completed);
	st->bytes_read = LOAD(c->bytes_read);
	st->bytes_written = LOAD(c->bytes_written);
	st->flushes = LOAD(c->flushes);
	st->io_errors = LOAD(c->io_errors);
	st->io_resubmits = LOAD(c->io_resubmits);
	st->completed_in_reaper = LOAD(c->completed_in_reaper);
	st->deferred = LOAD(c->deferred);
	st->completed_in_worker = LOAD(c->completed_in_worker);
	st->worker_batches = LOAD(c->worker_batches);
	st->worker_batch_bios = LOAD(c->worker_batch_bios);
	st->worker_delays = LOAD(c->worker_delays);
	st->worker_kicks = LOAD(c->worker_kicks);
	blk_stats_latency(dev, st);
}

static const char *const defer_hist_names[BLK_LAT_LOG2_BUCKETS] = {
	"defer_hist_0us", "defer_hist_2us", "defer_hist_4us", "defer_hist_8us",
	"defer_hist_16us", "defer_hist_32us", "defer_hist_64us", "defer_hist_128us",
	"defer_hist_256us", "defer_hist_512us", "defer_hist_1024us", "defer_hist_2048us",
	"defer_hist_4096us", "defer_hist_8192us", "defer_hist_16384us", "defer_hist_32768us",
	"defer_hist_65536us", "defer_hist_131072us", "defer_hist_262144us",
	"defer_hist_524288us", "defer_hist_1048576us", "defer_hist_2097152us",
	"defer_hist_4194304us", "defer_hist_8388608us",
};

/*
 * Stable names, in a stable order: tools and scripts parse them.
 * worker_batch_mean is bios per batch, rounded to the nearest integer.
 */
void blk_stats_for_each(const struct blk_stats *st,
			void (*fn)(void *ctx, const char *name, uint64_t val), void *ctx)
{
	uint64_t mean = st->worker_batches ?
		(st->worker_batch_bios + st->worker_batches / 2) / st->worker_batches : 0;

	fn(ctx, "bios_submitted", st->bios_submitted);
	fn(ctx, "bios_completed", st->bios_completed);
	fn(ctx, "bytes_read", st->bytes_read);
	fn(ctx, "bytes_written", st->bytes_written);
	fn(ctx, "flushes", st->flushes);
	fn(ctx, "io_errors", st->io_errors);
	fn(ctx, "io_resubmits", st->io_resubmits);
	fn(ctx, "completed_in_reaper", st->completed_in_reaper);
	fn(ctx, "deferred", st->deferred);
	fn(ctx, "completed_in_worker", st->completed_in_worker);
	fn(ctx, "worker_batches", st->worker_batches);
	fn(ctx, "worker_batch_bios", st->worker_batch_bios);
	fn(ctx, "worker_batch_mean", mean);
	fn(ctx, "defer_lat_p50_us", st->defer_lat_p50_us);
	fn(ctx, "defer_lat_p99_us", st->defer_lat_p99_us);
	fn(ctx, "defer_lat_max_us", st->defer_lat_max_us);
	for (unsigned k = 0; k < BLK_LAT_LOG2_BUCKETS; k++)
		fn(ctx, defer_hist_names[k], st->defer_lat_log2[k]);
	fn(ctx, "worker_delays", st->worker_delays);
	fn(ctx, "worker_kicks", st->worker_kicks);
}
