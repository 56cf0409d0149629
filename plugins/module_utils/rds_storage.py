# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The storage limits of RDS for PostgreSQL, in one table.

Pure data: the configuration schema refuses storage RDS would refuse before any call, and
the database component sizes provisioned IOPS from the same figures.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Smallest allocated storage RDS for PostgreSQL accepts, per storage type (GiB).
MIN_STORAGE_GIB = {"gp2": 20, "gp3": 20, "io1": 100, "io2": 100}
PROVISIONED_IOPS_TYPES = ("io1", "io2")
MIN_PROVISIONED_IOPS = 1000
MAX_PROVISIONED_IOPS = 256000
# The IOPS-to-GiB ratios RDS accepts, per storage type (RDS user guide, "Provisioned IOPS
# SSD storage"); moto accepts any.
IOPS_PER_GIB = {"io1": (1, 50), "io2": (0.5, 1000)}
