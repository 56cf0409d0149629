# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts about AWS regions that validation needs before any call.

Pure data: the configuration schema checks an environment's availability zones against
it before any call.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Availability zones a region offers to every account (opt-in Local and Wavelength
# zones excluded), from AWS's "Regions and Availability Zones" page. A ceiling used to
# refuse a configuration before any call; the live DescribeAvailabilityZones answer
# is checked again at run time, since an account may see fewer (us-west-1 shows two of
# its three to newer accounts). A region missing here is checked at run time only.
REGION_AZ_COUNT = {
    "af-south-1": 3, "ap-east-1": 3, "ap-east-2": 3, "ap-northeast-1": 3, "ap-northeast-2": 4,
    "ap-northeast-3": 3, "ap-south-1": 3, "ap-south-2": 3, "ap-southeast-1": 3, "ap-southeast-2": 3,
    "ap-southeast-3": 3, "ap-southeast-4": 3, "ap-southeast-5": 3, "ap-southeast-6": 3, "ap-southeast-7": 3,
    "ca-central-1": 3, "ca-west-1": 3, "cn-north-1": 3, "cn-northwest-1": 3,
    "eu-central-1": 3, "eu-central-2": 3, "eu-north-1": 3, "eu-south-1": 3, "eu-south-2": 3,
    "eu-west-1": 3, "eu-west-2": 3, "eu-west-3": 3, "il-central-1": 3, "me-central-1": 3, "me-south-1": 3,
    "mx-central-1": 3, "sa-east-1": 3, "us-east-1": 6, "us-east-2": 3, "us-gov-east-1": 3, "us-gov-west-1": 3,
    "us-west-1": 2, "us-west-2": 4,
}
