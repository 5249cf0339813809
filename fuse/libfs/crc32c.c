// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * CRC32C (Castagnoli) and the metadata block checksum convention of
 * format.h: crc32c(~0, block with the crc field zero) then ~.  The SSE4.2
 * crc32 instruction is used when the CPU has it (chosen once, at the first
 * call), with a slicing-by-1 table as the fallback.
 */
#include "meta_internal.h"

#include <pthread.h>

#define CRC32C_POLY	0x82F63B78u	/* reflected Castagnoli polynomial */

static uint32_t crc_table[256];
static uint32_t (*crc_impl)(uint32_t crc, const uint8_t *p, size_t len);
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static uint32_t crc32c_table(uint32_t crc, const uint8_t *p, size_t len)
{
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = crc;

	while (len >= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		len -= 8;
	}
	crc = (uint32_t)c;
	while (len--)
		crc = __builtin_ia32_crc32qi(crc, *p++);
	return crc;
}

static void crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc_table[i] = c;
	}
	__builtin_cpu_init();
	crc_impl = __builtin_cpu_supports("sse4.2") ? crc32c_sse42 : crc32c_table;
}

/* Raw update: no inversion here; callers use ~crc32c(~0u, ...). */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc_once, crc32c_init);
	return crc_impl(crc, buf, len);
}

/* The format.h checksum of a 4 KiB block whose crc field is at @crc_off. */
uint32_t meta_crc_block(const void *block, size_t crc_off)
{
	static const uint8_t zero[4];
	const uint8_t *p = block;
	uint32_t crc = ~0u;

	crc = crc32c(crc, p, crc_off);
	crc = crc32c(crc, zero, 4);
	crc = crc32c(crc, p + crc_off + 4, IOMAPFS_BLOCK_SIZE - crc_off - 4);
	return ~crc;
}

void meta_block_set_crc(void *block)
{
	struct iomapfs_blkhdr *h = block;

	h->crc = meta_crc_block(block, offsetof(struct iomapfs_blkhdr, crc));
}

const char *meta_block_problem(struct meta *m, const void *block,
			       uint32_t magic, uint64_t blkno)
{
	const struct iomapfs_blkhdr *h = block;

	if (h->magic != magic)
		return "bad magic";
	if (h->crc != meta_crc_block(block, offsetof(struct iomapfs_blkhdr, crc)))
		return "checksum mismatch";
	if (h->blkno != blkno)
		return "misdirected (block number mismatch)";
	if (m && memcmp(h->uuid, m->sb.uuid, sizeof(h->uuid)))
		return "foreign block (UUID mismatch)";
	return NULL;
}

int meta_block_verify(struct meta *m, const void *block, uint32_t magic,
		      uint64_t blkno)
{
	return meta_block_problem(m, block, magic, blkno) ? -EUCLEAN : 0;
}

void meta_super_set_crc(void *block)
{
	struct iomapfs_super *sb = block;

	sb->crc = meta_crc_block(block, offsetof(struct iomapfs_super, crc));
}

bool meta_super_crc_ok(const void *block)
{
	const struct iomapfs_super *sb = block;

	return sb->crc == meta_crc_block(block, offsetof(struct iomapfs_super, crc));
}
