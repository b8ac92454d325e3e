// SPDX-License-Identifier: Apache-2.0
/* The VM's plain description: defaults, teardown, lookups. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cpu_template.h"

void config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->machine.vcpu_count = 1;
	cfg->machine.mem_size_mib = CONFIG_DEFAULT_MEM_MIB;
}

void config_boot_free(struct config_boot *b)
{
	free(b->kernel_image_path);
	free(b->initrd_path);
	free(b->boot_args);
	memset(b, 0, sizeof(*b));
}

void config_drive_free(struct config_drive *d)
{
	free(d->drive_id);
	free(d->path_on_host);
	free(d->partuuid);
	memset(d, 0, sizeof(*d));
}

void config_net_free(struct config_net *n)
{
	free(n->iface_id);
	free(n->host_dev_name);
	memset(n, 0, sizeof(*n));
}

void config_pmem_free(struct config_pmem *p)
{
	free(p->id);
	free(p->path_on_host);
	memset(p, 0, sizeof(*p));
}

void config_free(struct vm_config *cfg)
{
	config_boot_free(&cfg->boot);
	cpu_template_free(cfg->cpu_custom);
	free(cfg->serial.out_path);
	for (unsigned i = 0; i < cfg->nr_drives; i++)
		config_drive_free(&cfg->drives[i]);
	for (unsigned i = 0; i < cfg->nr_nets; i++)
		config_net_free(&cfg->nets[i]);
	for (unsigned i = 0; i < cfg->nr_pmems; i++)
		config_pmem_free(&cfg->pmems[i]);
	free(cfg->vsock.uds_path);
	memset(cfg, 0, sizeof(*cfg));
}

int config_find_drive(const struct vm_config *cfg, const char *id)
{
	for (unsigned i = 0; i < cfg->nr_drives; i++)
		if (!strcmp(cfg->drives[i].drive_id, id))
			return (int)i;
	return -1;
}

int config_find_net(const struct vm_config *cfg, const char *id)
{
	for (unsigned i = 0; i < cfg->nr_nets; i++)
		if (!strcmp(cfg->nets[i].iface_id, id))
			return (int)i;
	return -1;
}

int config_find_pmem(const struct vm_config *cfg, const char *id)
{
	for (unsigned i = 0; i < cfg->nr_pmems; i++)
		if (!strcmp(cfg->pmems[i].id, id))
			return (int)i;
	return -1;
}

unsigned config_mem_granule_mib(enum config_huge_pages h)
{
	/* Transparent huge pages work on any size, but Firecracker asks for
	 * 2 MiB multiples there too, so the kernel can align them. */
	return h == CONFIG_HUGE_NONE ? 1 : 2;
}
