"""moto_server for the rmq-aws tests, with two fixes for moto 5.2.5 (test harness only).

moto stores the UserData of CreateLaunchTemplateVersion as a plain string, while every reader
(instance launch by an Auto Scaling group) asserts it is a Base64EncodedString: replacing an
instance of a group on a second template version then fails with HTTP 500. CreateLaunchTemplate
converts it; this applies the same conversion to new versions. Re-check on a moto upgrade.
"""

import sys
import threading

from moto.core.types import Base64EncodedString
from moto.ec2.models.launch_templates import LaunchTemplate
from moto.ec2.utils import parse_user_data
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.server import main

_create_version = LaunchTemplate.create_version


def _create_version_with_user_data(self, data, description):
    user_data = data.get("UserData")
    if user_data is not None and not isinstance(user_data, Base64EncodedString):
        data["UserData"] = parse_user_data(user_data)
    return _create_version(self, data, description)


LaunchTemplate.create_version = _create_version_with_user_data

# moto's backends are not safe under concurrent requests (the server is threaded and the tests
# run in parallel): DescribeRouteTables once failed with HTTP 500 "dictionary changed size during
# iteration" while another test tagged a resource. Requests are handled one at a time.
_lock = threading.Lock()
_dispatch = DomainDispatcherApplication.__call__


def _one_at_a_time(self, environ, start_response):
    with _lock:
        return _dispatch(self, environ, start_response)


DomainDispatcherApplication.__call__ = _one_at_a_time

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
