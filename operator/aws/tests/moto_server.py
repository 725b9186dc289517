"""moto_server for the rmq-aws tests, with five fixes for moto 5.2.5 (test harness only).

moto stores the UserData of CreateLaunchTemplateVersion as a plain string, while every reader
(instance launch by an Auto Scaling group) asserts it is a Base64EncodedString: replacing an
instance of a group on a second template version then fails with HTTP 500. CreateLaunchTemplate
converts it; this applies the same conversion to new versions. Re-check on a moto upgrade.

aws-sdk-cloudwatch (since 1.100) speaks Smithy RPC v2 CBOR (POST
/service/GraniteServiceVersion20100801/operation/<Op>, CBOR bodies), which moto 5.2.5 does not
parse; CloudWatch's model also offers AWS JSON 1.0, which moto does. A CBOR request is decoded and
handed to moto as the same operation in JSON 1.0, and moto's JSON answer is encoded back to CBOR
along the operation's output shape (botocore's own CBOR codec, the one its clients use).

A launch template's tags in DescribeLaunchTemplates are a copy taken at its creation; CreateTags
on the template later (the apply lock renews its expiry that way) is not shown. They are read
from the tag store on every call instead, as AWS shows them.

Lifecycle hooks: moto 5.2.5 stores PutLifecycleHook but launches every instance straight into
InService and has no CompleteLifecycleAction. Here an instance a group launches while it has an
autoscaling:EC2_INSTANCE_LAUNCHING hook waits in Pending:Wait (and counts towards the group's
capacity, as on AWS) until CompleteLifecycleAction: CONTINUE puts it in service, ABANDON
terminates it (and the group launches another). The hook's heartbeat timeout is not modelled.
"""

import io
import json
import sys
import threading

import botocore.session
from botocore.parsers import BaseCBORParser
from botocore.serialize import RpcV2CBORSerializer

from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.models import FakeAutoScalingGroup
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import EmptyResult
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
LaunchTemplate.tags = property(lambda self: self.get_tags(), lambda self, value: None)

_LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
_replace_instances = FakeAutoScalingGroup.replace_autoscaling_group_instances


def _launching_hook(group):
    hooks = group.autoscaling_backend.lifecycle_hooks.values()
    return any(h.auto_scaling_group_name == group.name and h.lifecycle_transition == _LAUNCHING for h in hooks)


def _replace_instances_waiting(self, count_needed, propagated_tags):
    before = len(self.instance_states)
    _replace_instances(self, count_needed, propagated_tags)
    if _launching_hook(self):
        for state in self.instance_states[before:]:
            state.lifecycle_state = "Pending:Wait"


def _active_instances(self):
    return [x for x in self.instance_states if x.lifecycle_state in ("InService", "Pending:Wait")]


def _complete_lifecycle_action(self):
    backend = self.autoscaling_backend
    group = backend.autoscaling_groups.get(self._get_param("AutoScalingGroupName"))
    instance_id = self._get_param("InstanceId")
    result = self._get_param("LifecycleActionResult")
    state = next((s for s in (group.instance_states if group else []) if s.instance.id == instance_id), None)
    if state is None or state.lifecycle_state != "Pending:Wait":
        raise ValidationError(f"No active Lifecycle Action found with instance ID {instance_id}")
    if result == "ABANDON":
        backend.terminate_instance(instance_id, should_decrement=False)
    else:
        state.lifecycle_state = "InService"
    return EmptyResult()


FakeAutoScalingGroup.replace_autoscaling_group_instances = _replace_instances_waiting
FakeAutoScalingGroup.active_instances = _active_instances
AutoScalingResponse.complete_lifecycle_action = _complete_lifecycle_action

# moto's backends are not safe under concurrent requests (the server is threaded and the tests
# run in parallel): DescribeRouteTables once failed with HTTP 500 "dictionary changed size during
# iteration" while another test tagged a resource. Requests are handled one at a time.
_lock = threading.Lock()
_dispatch = DomainDispatcherApplication.__call__


def _one_at_a_time(self, environ, start_response):
    with _lock:
        return _dispatch(self, environ, start_response)


_CBOR_PREFIX = "/service/GraniteServiceVersion20100801/operation/"
_cloudwatch = []


def _cloudwatch_model():
    if not _cloudwatch:
        _cloudwatch.append(botocore.session.get_session().get_service_model("cloudwatch"))
    return _cloudwatch[0]


class _CborEncoder(RpcV2CBORSerializer):
    """Encodes moto's JSON answer along an output shape, leaving out what the shape lacks."""

    def _serialize_type_structure(self, serialized, value, shape, key):
        value = {k: v for k, v in value.items() if k in shape.members}
        super()._serialize_type_structure(serialized, value, shape, key)

    def error(self, fields):
        out = bytearray(self._get_initial_byte(self.MAP_MAJOR_TYPE, len(fields)))
        for k, v in fields.items():
            self._serialize_type_string(out, k, None, None)
            self._serialize_type_string(out, str(v), None, None)
        return bytes(out)


def _as_json_request(environ):
    """The operation and a JSON 1.0 version of the CBOR request `environ`."""
    op = environ["PATH_INFO"][len(_CBOR_PREFIX):]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    decoder = BaseCBORParser()
    params = decoder.parse_data_item(decoder.get_peekable_stream_from_bytes(raw)) if raw else {}
    body = json.dumps(params, default=lambda o: o.timestamp()).encode()
    environ = dict(environ)
    environ.update({
        "PATH_INFO": "/",
        "CONTENT_TYPE": "application/x-amz-json-1.0",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_AMZ_TARGET": f"GraniteServiceVersion20100801.{op}",
        "wsgi.input": io.BytesIO(body),
    })
    return op, environ


def _cbor_call(self, environ, start_response):
    op, environ = _as_json_request(environ)
    answer = {}
    chunks = []

    def capture(status, headers, exc_info=None):
        answer.update(status=status, headers=headers)
        return chunks.append

    result = _one_at_a_time(self, environ, capture)
    try:
        chunks.extend(result)
    finally:
        getattr(result, "close", lambda: None)()
    text = b"".join(chunks)
    data = json.loads(text) if text.strip() else {}
    encoder = _CborEncoder()
    if int(answer["status"].split()[0]) < 300:
        shape = _cloudwatch_model().operation_model(op).output_shape
        out = bytearray()
        if shape is not None:
            encoder._serialize_data_item(out, data, shape)
        body = bytes(out)
    else:
        body = encoder.error({k: v for k, v in data.items() if k in ("__type", "message", "Message")})
    headers = [(k, v) for k, v in answer["headers"] if k.lower() not in ("content-type", "content-length")]
    headers += [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"),
                ("Content-Length", str(len(body)))]
    start_response(answer["status"], headers)
    return [body]


def _dispatch_request(self, environ, start_response):
    if environ.get("PATH_INFO", "").startswith(_CBOR_PREFIX):
        return _cbor_call(self, environ, start_response)
    return _one_at_a_time(self, environ, start_response)


DomainDispatcherApplication.__call__ = _dispatch_request

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
