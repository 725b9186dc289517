#!/usr/bin/env python3
"""Start moto_server on 127.0.0.1 with an ephemeral port, after patching eight gaps in its CloudFormation.

Usage: python moto_shim.py PORT_FILE    (writes the bound port to PORT_FILE, then serves)

moto 5.2.5 (pinned in requirements.txt) lacks eight pieces of CloudFormation behaviour that the
rmq templates depend on. Each patch below adds the behaviour AWS documents; none changes what a
resource looks like, so assertions still only cover what moto itself models:

1. Fn::GetAtt on a nested stack (AWS::CloudFormation::Stack) for "Outputs.<Key>". moto has no
   get_cfn_attribute on its Stack model, so the reference raises AttributeError (HTTP 500), and
   its YAML loader splits "!GetAtt A.Outputs.Key" at every dot where CloudFormation splits at the
   first one only.
2. Updating a nested stack resource: moto deletes the nested stack and creates a new one (new
   addresses, new volumes). CloudFormation updates it in place; so does the patch.
3. Re-evaluation in update_stack: when only parameters change, moto neither creates resources
   whose Condition turns true nor deletes those whose Condition turns false, and it updates a
   resource only if its JSON or a parameter it names directly changed. The patch does all three
   (this is how the cluster template adds and removes broker groups and replicas, and how a
   new nameserver reaches every broker's namesrvAddr).
4. CloudFormation deletes of AWS::EC2::NetworkInterface and AWS::EC2::Volume, which moto leaves
   behind; the Volume delete takes a snapshot first when DeletionPolicy is Snapshot.
5. CloudFormation deletes of NAT gateways, Elastic IPs, routes, route tables, the internet
   gateway and its attachment, without which moto cannot delete the VPC (DependencyViolation).
6. AWS::CloudWatch::Alarm as a CloudFormation resource (create, update, delete, GetAtt Arn):
   moto models alarms (PutMetricAlarm) but its stacks skip the type with a warning.
7. AWS::Logs::MetricFilter as a CloudFormation resource (create, update, delete), likewise through
   moto's own PutMetricFilter/DeleteMetricFilter.
8. UpdateStack with UsePreviousValue for a parameter the stack took from its template's Default:
   moto looks the key up among the parameters given at creation only (HTTP 500, KeyError);
   CloudFormation keeps the value the stack has (scripts/release-aws.sh --update relies on it).

If moto's internals move (a different moto version), the patch fails at start with a message
naming the missing piece instead of letting tests fail in odd ways.
"""
import sys
import threading


def _require(obj, name):
    if not hasattr(obj, name):
        sys.exit(f"moto_shim: moto changed: {obj.__name__}.{name} is gone; re-check the patches "
                 f"against the moto version in cloudformation/requirements.txt")
    return getattr(obj, name)


def patch_moto():
    from moto.cloudformation import models, parsing
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException, ValidationError
    from moto.cloudformation.utils import get_stack_from_s3_url
    from moto.utilities.utils import get_partition

    Stack = models.Stack
    ResourceMap = parsing.ResourceMap
    _require(Stack, "outputs")
    _require(Stack, "update")
    orig_update = _require(ResourceMap, "update")
    _require(ResourceMap, "build_resource_diff")
    _require(ResourceMap, "_delete_resource")

    # 8. UsePreviousValue of a defaulted parameter: the value the stack resolved.
    backend_class = _require(models, "CloudFormationBackend")
    _require(backend_class, "_resolve_update_parameters")

    def resolve_update_parameters(self, instance, incoming_params):
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in incoming_params if "ParameterValue" in p}
        for p in incoming_params:
            if p.get("UsePreviousValue", False):
                key = p["ParameterKey"]
                value = instance.parameters.get(key, instance.stack_parameters.get(key))
                parameters[key] = ",".join(map(str, value)) if isinstance(value, list) else value
        return parameters
    backend_class._resolve_update_parameters = resolve_update_parameters

    # 1. GetAtt NestedStack.Outputs.Key
    def get_cfn_attribute(self, attribute_name):
        if not attribute_name.startswith("Outputs."):
            raise UnformattedGetAttTemplateException()
        key = attribute_name[len("Outputs."):]
        for output in self.outputs or []:
            if output["OutputKey"] == key:
                return output["OutputValue"]
        raise ValidationError(message=f"Stack {self.name} has no output {key}")

    Stack.get_cfn_attribute = get_cfn_attribute
    orig_constructor = _require(models, "yaml_tag_constructor")

    def yaml_tag_constructor(loader, tag, node):
        if tag == "!GetAtt" and isinstance(node.value, str):
            return {"Fn::GetAtt": node.value.split(".", 1)}
        return orig_constructor(loader, tag, node)

    models.yaml_tag_constructor = yaml_tag_constructor

    # 2. Nested stacks are updated in place. Parameters are passed as strings, as CloudFormation
    #    does (moto passes ints and lists through, which then look "changed" on every update).
    def as_parameters(properties):
        return {k: ",".join(map(str, v)) if isinstance(v, list) else str(v)
                for k, v in properties.get("Parameters", {}).items()}

    orig_create = Stack.create_from_cloudformation_json.__func__

    @classmethod
    def create_nested(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        cloudformation_json = dict(cloudformation_json)
        properties = dict(cloudformation_json["Properties"])
        properties["Parameters"] = as_parameters(properties)
        cloudformation_json["Properties"] = properties
        return orig_create(cls, resource_name, cloudformation_json, account_id, region_name,
                           **kwargs)

    Stack.create_from_cloudformation_json = create_nested

    @classmethod
    def update_nested(cls, original_resource, new_resource_name, cloudformation_json,
                      account_id, region_name):
        properties = cloudformation_json["Properties"]
        template = get_stack_from_s3_url(properties["TemplateURL"], account_id=account_id,
                                         partition=get_partition(region_name))
        parameters = as_parameters(properties)
        original_resource.update(template, parameters=parameters)
        return original_resource

    Stack.update_from_cloudformation_json = update_nested

    # 3. update_stack re-evaluates conditions and intrinsic functions, as CloudFormation does.
    def condition_true(resource_map, resource_json):
        name = resource_json.get("Condition")
        return name is None or bool(resource_map.lazy_condition_map[name])

    def resolved(resource_map, resource_json):
        try:
            return parsing.clean_json(resource_json.get("Properties", {}), resource_map)
        except Exception as e:  # unresolvable now: treat as changed
            return ("unresolvable", repr(e))

    order = "_ResourceMap__get_resources_in_dependency_order"
    _require(ResourceMap, order)

    def update(self, template, parameters=None):
        live_before = [name for name in self._resource_json_map
                       if self._parsed_resources.get(name) is not None]
        old_json = dict(self._resource_json_map)
        before = {name: resolved(self, old_json[name]) for name in live_before}
        diff = self.build_resource_diff
        pending = {}

        def build_resource_diff(other_template, params=None):
            actions = diff(other_template, params)
            # The conditions as they will be after the update (parameters only, no resources).
            scratch = ResourceMap(self.stack_id, "scratch", params or self.input_parameters, {},
                                  region_name=self._region_name, account_id=self._account_id,
                                  template=other_template, cross_stack_resources={})
            scratch.load_mapping()
            scratch.load_parameters()
            scratch.load_conditions()
            resources = other_template["Resources"]
            actions["Modify"] = [n for n in actions["Modify"]
                                 if n in live_before and condition_true(scratch, resources[n])]
            pending["modified"] = set(actions["Modify"])
            pending["removed"] = set(actions["Remove"])
            return actions

        self.build_resource_diff = build_resource_diff
        try:
            orig_update(self, template, parameters)
        finally:
            del self.build_resource_diff
        new_json = self._resource_json_map
        for name in pending["removed"]:
            self._parsed_resources.pop(name, None)
        # Still in the template, but the condition is now false: delete.
        gone = [n for n in live_before if n in new_json and not condition_true(self, new_json[n])]
        for _ in range(5):
            for name in list(gone):
                try:
                    self._delete_resource(self._parsed_resources[name], old_json[name])
                except Exception:  # dependency order: retry in the next pass
                    continue
                self._parsed_resources.pop(name, None)
                gone.remove(name)
        if gone:
            raise ValidationError(message=f"moto_shim: could not delete {gone}")
        # Condition now true and never created: create.
        for name, resource_json in new_json.items():
            if name not in self._parsed_resources and condition_true(self, resource_json):
                _ = self[name]
        # Unchanged JSON whose resolved properties changed (a condition or an attribute of a
        # resource it refers to changed): update, in dependency order.
        for name in getattr(self, order)():
            if name not in before or name in pending["modified"] or name not in self._parsed_resources:
                continue
            if resolved(self, new_json[name]) == before[name]:
                continue
            changed = parsing.parse_and_update_resource(name, new_json[name], self,
                                                        account_id=self._account_id,
                                                        region_name=self._region_name)
            if changed is not None:
                self._parsed_resources[name] = changed

    ResourceMap.update = update

    # 4. CloudFormation deletes of AWS::EC2::NetworkInterface and AWS::EC2::Volume. moto calls
    #    NetworkInterface.delete() with arguments it does not take and has no delete for Volume,
    #    so both outlive their stack. The Volume delete honours DeletionPolicy: Snapshot.
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.elastic_block_store import Volume
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface

    @classmethod
    def delete_interface(cls, resource_name, cloudformation_json, account_id, region_name):
        ec2_backends[account_id][region_name].delete_network_interface(resource_name)

    @classmethod
    def delete_volume(cls, resource_name, cloudformation_json, account_id, region_name):
        backend = ec2_backends[account_id][region_name]
        if cloudformation_json.get("DeletionPolicy") == "Snapshot":
            backend.create_snapshot(resource_name, f"DeletionPolicy Snapshot of {resource_name}")
        backend.delete_volume(resource_name)

    NetworkInterface.delete_from_cloudformation_json = delete_interface
    Volume.delete_from_cloudformation_json = delete_volume

    # 5. CloudFormation deletes of the network resources moto leaves behind (so the VPC itself
    #    can go): NAT gateway, Elastic IP, route, route table, internet gateway and attachment.
    from moto.ec2.models.elastic_ip_addresses import ElasticAddress
    from moto.ec2.models.internet_gateways import InternetGateway
    from moto.ec2.models.nat_gateways import NatGateway
    from moto.ec2.models.route_tables import Route, RouteTable
    from moto.ec2.models.vpn_gateway import VPCGatewayAttachment

    def deleter(action):
        @classmethod
        def delete(cls, resource_name, cloudformation_json, account_id, region_name):
            try:
                action(ec2_backends[account_id][region_name], resource_name)
            except Exception as e:  # already gone (e.g. a route of a deleted table) is fine
                if "NotFound" not in f"{getattr(e, 'code', '')} {type(e).__name__}":
                    raise
        return delete

    def detach_gateways(backend, vpc_id):  # the attachment's physical id is the VPC id
        for igw in list(backend.internet_gateways.values()):
            if igw.vpc is not None and igw.vpc.id == vpc_id:
                backend.detach_internet_gateway(igw.id, vpc_id)

    def delete_route(backend, physical_id):  # "rtb-...~0.0.0.0/0"
        table, destination = physical_id.split("~", 1)
        backend.delete_route(table, destination)

    def delete_nat(backend, nat_id):
        backend.delete_nat_gateway(nat_id)
        backend.nat_gateways.pop(nat_id, None)

    NatGateway.delete_from_cloudformation_json = deleter(delete_nat)
    ElasticAddress.delete_from_cloudformation_json = deleter(
        lambda backend, ip: backend.release_address(address=ip))
    Route.delete_from_cloudformation_json = deleter(delete_route)
    RouteTable.delete_from_cloudformation_json = deleter(lambda backend, table_id: backend.delete_route_table(table_id))
    InternetGateway.delete_from_cloudformation_json = deleter(
        lambda backend, igw_id: backend.delete_internet_gateway(igw_id))
    VPCGatewayAttachment.delete_from_cloudformation_json = deleter(detach_gateways)


def patch_alarms():
    """6. AWS::CloudWatch::Alarm in stacks, through moto's own put_metric_alarm/delete_alarms.
    Must run before moto first lists its CloudFormation models (they are cached)."""
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.core.common_models import CloudFormationModel

    def backend(account_id, region_name):
        return cloudwatch_backends[account_id][region_name]

    class StackAlarm(CloudFormationModel):
        __module__ = "moto.cloudwatch.models"  # moto's model metaclass names the service by it

        def __init__(self, alarm):
            self.alarm, self.name = alarm, alarm.name

        @property
        def physical_resource_id(self):
            return self.name

        @staticmethod
        def cloudformation_type():
            return "AWS::CloudWatch::Alarm"

        @staticmethod
        def cloudformation_name_type():
            return "AlarmName"

        @classmethod
        def has_cfn_attr(cls, attr):
            return attr == "Arn"

        def get_cfn_attribute(self, attribute_name):
            if attribute_name == "Arn":
                return self.alarm.alarm_arn
            raise UnformattedGetAttTemplateException()

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                            region_name, **kwargs):
            p = cloudformation_json["Properties"]
            alarm = backend(account_id, region_name).put_metric_alarm(
                name=p.get("AlarmName") or resource_name, namespace=p.get("Namespace"),
                metric_name=p.get("MetricName"), comparison_operator=p["ComparisonOperator"],
                evaluation_periods=int(p["EvaluationPeriods"]), period=int(p.get("Period", 60)),
                threshold=float(p["Threshold"]), statistic=p.get("Statistic"),
                description=p.get("AlarmDescription"), dimensions=p.get("Dimensions", []),
                alarm_actions=p.get("AlarmActions", []), ok_actions=p.get("OKActions", []),
                treat_missing_data=p.get("TreatMissingData"))
            return cls(alarm)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                            cloudformation_json, account_id, region_name):
            cls.delete_from_cloudformation_json(original_resource.name, cloudformation_json,
                                                account_id, region_name)
            return cls.create_from_cloudformation_json(original_resource.name, cloudformation_json,
                                                       account_id, region_name)

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                            region_name):
            backend(account_id, region_name).delete_alarms([resource_name])

    return StackAlarm


def patch_metric_filters():
    """7. AWS::Logs::MetricFilter in stacks, through moto's own put_metric_filter/delete_metric_filter.
    Must run before moto first lists its CloudFormation models (they are cached)."""
    from moto.core.common_models import CloudFormationModel
    from moto.logs.models import logs_backends

    def backend(account_id, region_name):
        return logs_backends[account_id][region_name]

    def camel(d):
        return {k[0].lower() + k[1:]: v for k, v in d.items()}

    class StackMetricFilter(CloudFormationModel):
        __module__ = "moto.logs.models"  # moto's model metaclass names the service by it

        def __init__(self, name, group):
            self.name, self.group = name, group

        @property
        def physical_resource_id(self):
            return self.name

        @staticmethod
        def cloudformation_type():
            return "AWS::Logs::MetricFilter"

        @staticmethod
        def cloudformation_name_type():
            return "FilterName"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                            region_name, **kwargs):
            p = cloudformation_json["Properties"]
            name = p.get("FilterName") or resource_name
            backend(account_id, region_name).put_metric_filter(
                name, p["FilterPattern"], p["LogGroupName"], [camel(t) for t in p["MetricTransformations"]])
            return cls(name, p["LogGroupName"])

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                            cloudformation_json, account_id, region_name):
            backend(account_id, region_name).delete_metric_filter(original_resource.name, original_resource.group)
            return cls.create_from_cloudformation_json(original_resource.name, cloudformation_json,
                                                       account_id, region_name)

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                            region_name):
            group = cloudformation_json.get("Properties", {}).get("LogGroupName")
            backend(account_id, region_name).delete_metric_filter(resource_name, group)

    return StackMetricFilter


def main():
    port_file = sys.argv[1]
    patch_alarms()
    patch_metric_filters()
    patch_moto()
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.port))
    import os
    os.replace(port_file + ".tmp", port_file)
    print(f"moto_shim: serving on 127.0.0.1:{server.port}", flush=True)
    threading.current_thread().name = "moto"
    server.serve_forever()


if __name__ == "__main__":
    main()
