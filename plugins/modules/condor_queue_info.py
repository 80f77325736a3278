#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: condor_queue_info
short_description: Which jobs of a schedd a selection holds, per owner, and which of them can be exported
version_added: 0.1.0
description:
  - Reads the queue of a condor_schedd (through the C(htcondor2) bindings) for a selection of jobs, given as
    a ClassAd constraint or as cluster ids, and groups it the way a Lumberjack export works, by owner and by
    whole cluster (C(Schedd.export_jobs) exports whole clusters of one owner per call).
  - For every owner it returns the clusters, the jobs, and what stands in the way of exporting them (jobs
    that are not idle, or are managed by another external manager), so a play can export each owner's
    clusters with M(hepcloud.lumberjack.condor_export) and report the rest.
  - Never changes anything.
author:
  - HEPCloud Lumberjack maintainers (@hepcloud)
extends_documentation_fragment:
  - hepcloud.lumberjack._schedd
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: It never changes anything.
  diff_mode:
    support: N/A
    details: It never changes anything.
  platform:
    support: full
    platforms: posix
options:
  constraint:
    description:
      - A ClassAd constraint selecting jobs. Their whole clusters are reported, as an export would take them.
      - One of O(constraint) and O(cluster_ids) is required.
    type: str
  cluster_ids:
    description:
      - Cluster ids to report.
    type: list
    elements: int
seealso:
  - module: hepcloud.lumberjack.condor_export
"""

EXAMPLES = r"""
- name: Find the owners of the jobs that go to a site
  hepcloud.lumberjack.condor_queue_info:
    constraint: 'LumberjackSite == "perlmutter" && JobStatus == 1'
  register: selection

- name: Export each owner's clusters into its own directory
  hepcloud.lumberjack.condor_export:
    cluster_ids: "{{ item.value.exportable_clusters }}"
    export_dir: "/var/lib/lumberjack/run7/perlmutter/export/{{ item.key }}"
    spool_dir: /scratch/lumberjack/run7/local_dir/spool
  loop: "{{ selection.owners | dict2items }}"
  when: item.value.exportable_clusters | length > 0
"""

RETURN = r"""
owners:
  description:
    - Per owner, the clusters and jobs of the selection, the clusters that can be exported now (every job idle
      and not managed by anybody), the clusters already exported by Lumberjack, and the jobs in the way with
      the reason.
  returned: always
  type: dict
  sample: {"alice": {"clusters": [12, 13], "jobs": ["12.0", "12.1", "13.0"], "exportable_clusters": [12],
                     "exported_clusters": [], "blocked": {"13.0": "running"}, "user": "alice@example.org"}}
clusters:
  description: Every cluster of the selection.
  returned: always
  type: list
  elements: int
  sample: [12, 13]
jobs:
  description: Number of jobs in the selection.
  returned: always
  type: int
  sample: 3
missing_clusters:
  description: Cluster ids asked for with O(cluster_ids) that are not in the queue.
  returned: always
  type: list
  elements: int
  sample: []
"""

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._schedd import (
    JOB_PROJECTION,
    ScheddClient,
    is_external,
    is_lumberjack,
    job_key,
    status_name,
)


class QueueInfo(object):
    def __init__(self, client):
        self.client = client
        self.params = client.module.params

    def run(self):
        p = self.params
        jobs, missing = self.client.select_clusters(p['cluster_ids'], p['constraint'], JOB_PROJECTION)
        owners = {}
        by_cluster = {}
        for j in jobs:
            c = int(j['ClusterId'])
            by_cluster.setdefault(c, []).append(j)
        for c, members in sorted(by_cluster.items()):
            owner = members[0].get('Owner') or ''
            entry = owners.setdefault(owner, dict(clusters=[], jobs=[], exportable_clusters=[], exported_clusters=[],
                                                  blocked={}, user=members[0].get('User')))
            entry['clusters'].append(c)
            blocked = {}
            exported = 0
            for j in members:
                jid = job_key(j)
                entry['jobs'].append(jid)
                if is_lumberjack(j):
                    exported += 1
                elif is_external(j):
                    blocked[jid] = 'managed externally by %s' % (j.get('ManagedManager') or 'another manager')
                elif j.get('JobStatus') != 1:
                    blocked[jid] = status_name(j.get('JobStatus'))
            entry['blocked'].update(blocked)
            if exported == len(members):
                entry['exported_clusters'].append(c)
            elif not blocked:
                entry['exportable_clusters'].append(c)
        self.client.exit(changed=False, owners=owners, clusters=sorted(by_cluster), jobs=len(jobs),
                         missing_clusters=missing if p['cluster_ids'] is not None else [])


def main():
    client = ScheddClient(
        argument_spec=dict(
            constraint=dict(type='str'),
            cluster_ids=dict(type='list', elements='int'),
        ),
        required_one_of=[('constraint', 'cluster_ids')],
        mutually_exclusive=[('constraint', 'cluster_ids')],
        supports_check_mode=True,
    )
    QueueInfo(client).run()


if __name__ == '__main__':
    main()
