#!/usr/bin/env bash
# One command from source to a running CloudFormation stack: build rmq-broker, rmq-namesrv,
# rmq-controller and rmqctl (release) for one CPU architecture, checksum them, upload binaries + NAME.sha256 +
# templates + the node bootstrap to an immutable versioned prefix, validate the templates, and
# print (or run) the exact `aws cloudformation create-stack` (or update-stack) command for that upload.
#
#   scripts/release-aws.sh --bucket BUCKET [--prefix rmq] [--arch x86_64|aarch64] [--bin-dir DIR]
#       [--version V] [--region R] [--bucket-region R] [--template quickstart|cluster]
#       [--stack-name NAME | --launch NAME | --update NAME] [--wait] [--param Key=Value]...
#       [--node-ami-parameter SSM_NAME] [--skip-lint]
#
# Layout written (never overwritten: a release whose prefix holds any object is refused):
#   s3://BUCKET/PREFIX/VERSION/{rmq-broker,rmq-namesrv,rmq-controller,rmqctl}{,.sha256}
#       (rmq-controller: the controllers of failover: Automatic, run by rmqctl aws from a release)
#   s3://BUCKET/PREFIX/VERSION/templates/rmq-{quickstart,vpc,cluster,node}.yaml
#   s3://BUCKET/PREFIX/VERSION/userdata/node-bootstrap.sh
#   s3://BUCKET/PREFIX/VERSION/rmq-node-secrets{,.sha256}  (userdata/node-secrets.sh: the nodes of
#       a cluster with spec.security download it like a binary, pinned by its SHA-256, which
#       templates/rmq-node.yaml carries: a release whose node template pins another is refused)
#   s3://BUCKET/PREFIX/VERSION/SHA256SUMS          (uploaded last: the release is complete)
# VERSION = `git describe --tags --always --dirty` + "-" + the first 8 hex digits of the SHA-256 of
# the binaries' checksums (so a rebuild with other bytes is another version), or --version.
# The stack parameters ArtefactBucketName, ArtefactKeyPrefix (= PREFIX/VERSION/), BrokerSha256,
# NameServerSha256 and ControllerSha256 (and ArtefactBucketRegion with --bucket-region) point at exactly this upload;
# --param adds or overrides others (AvailabilityZones=a\,b, KeyPairName=..., RemoteAccessCIDR=...).
#
# The node AMI is pinned: a new stack gets NodeAmiId = the value of the SSM parameter
# /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-<x86_64|arm64> (of --arch; or
# --node-ami-parameter), read once here; --param NodeAmiId=ami-... names one instead.
# --update NAME runs update-stack on an existing stack with this release's artefact parameters
# and the previous value of every other parameter, NodeAmiId included (so an update never
# moves to a newer AMI unless --param NodeAmiId=... says so); the node stacks then roll one at a
# time, each node only after the previous one signalled that it is ready (cloudformation/README.md).
#
# --bin-dir DIR skips the build and releases DIR/{rmq-broker,rmq-namesrv,rmq-controller,rmqctl} (checked to be
# ELF executables of --arch), e.g. binaries built on a machine of the other architecture.
# Needs: the AWS CLI (v1 or v2; AWS_ENDPOINT_URL, AWS_REGION and profiles are honoured), cfn-lint
# (CFN_LINT=path, on PATH, or the cloudformation test venv: bash cloudformation/venv.sh), and
# cargo unless --bin-dir. Informational lines go to stderr; stdout is the create-stack (or update-stack) command.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BINARIES=(rmq-broker rmq-namesrv rmq-controller rmqctl)
TEMPLATES=(rmq-quickstart.yaml rmq-vpc.yaml rmq-cluster.yaml rmq-node.yaml)

say() { echo "release-aws: $*" >&2; }
fail() { echo "release-aws: error: $*" >&2; exit 1; }

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit "${1:-2}"
}

# --- pure helpers ---------------------------------------------------------------------------

# elf_arch FILE: x86_64, aarch64, "ELF machine N" or "not an ELF executable".
elf_arch() {
  local magic machine
  magic=$(od -An -tx1 -N4 "$1" | tr -d ' \n')
  [ "$magic" = 7f454c46 ] || { echo "not an ELF executable"; return 0; }
  machine=$(od -An -tu2 -j18 -N2 "$1" | tr -d ' \n')
  case "$machine" in 62) echo x86_64 ;; 183) echo aarch64 ;; *) echo "ELF machine $machine" ;; esac
}

# json_string S: S as a JSON string literal (refuses control characters).
json_string() {
  local s=$1
  [[ "$s" != *[[:cntrl:]]* ]] || fail "parameter value ${s@Q} contains a control character"
  s=${s//\\/\\\\}; s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

# shell_quote S: S single-quoted for a POSIX shell.
shell_quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# valid_bucket NAME: S3's rules for a new bucket name (lowercase, digits, dots, hyphens).
valid_bucket() { [[ "$1" =~ ^[0-9a-z][0-9a-z.-]{1,61}[0-9a-z]$ ]]; }

# --- arguments ------------------------------------------------------------------------------

BUCKET="" PREFIX="rmq" ARCH="" BIN_DIR="" VERSION="" REGION="" BUCKET_REGION="" TEMPLATE=quickstart
STACK_NAME="rmq" LAUNCH="" UPDATE="" WAIT=0 SKIP_LINT=0 BROKER_SHA="" NAMESRV_SHA="" CONTROLLER_SHA="" WORK=""
AMI_PARAMETER="" NODE_AMI="" PARAM_KEYS=() PARAM_VALUES=()

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --bucket) BUCKET=${2-}; shift ;;
      --prefix) PREFIX=${2-}; shift ;;
      --arch) ARCH=${2-}; shift ;;
      --bin-dir) BIN_DIR=${2-}; shift ;;
      --version) VERSION=${2-}; shift ;;
      --region) REGION=${2-}; shift ;;
      --bucket-region) BUCKET_REGION=${2-}; shift ;;
      --template) TEMPLATE=${2-}; shift ;;
      --stack-name) STACK_NAME=${2-}; shift ;;
      --launch) LAUNCH=${2-}; STACK_NAME=${2-}; shift ;;
      --update) UPDATE=${2-}; STACK_NAME=${2-}; shift ;;
      --node-ami-parameter) AMI_PARAMETER=${2-}; shift ;;
      --wait) WAIT=1 ;;
      --param)
        [[ "${2-}" == ?*=* ]] || fail "--param needs Key=Value, got ${2-}"
        PARAM_KEYS+=("${2%%=*}"); PARAM_VALUES+=("${2#*=}"); shift ;;
      --skip-lint) SKIP_LINT=1 ;;
      -h|--help) usage 0 ;;
      *) fail "unknown argument $1 (see --help)" ;;
    esac
    [ $# -gt 0 ] && shift
  done
  [ -n "$BUCKET" ] || fail "--bucket is required (an S3 bucket you own, in --bucket-region or the stack's region)"
  valid_bucket "$BUCKET" || fail "--bucket $BUCKET is not a valid S3 bucket name"
  PREFIX=${PREFIX#/}; PREFIX=${PREFIX%/}
  [[ "$PREFIX" =~ ^[0-9A-Za-z._-][0-9A-Za-z._/-]*$ ]] || fail "--prefix ${PREFIX@Q} must be letters, digits, '._-/' (e.g. rmq or teams/mq/rmq)"
  [ -n "$ARCH" ] || ARCH=$(uname -m)
  case "$ARCH" in x86_64|aarch64) ;; arm64) ARCH=aarch64 ;; amd64) ARCH=x86_64 ;;
    *) fail "--arch $ARCH is not x86_64 or aarch64" ;; esac
  case "$TEMPLATE" in quickstart|cluster) ;; *) fail "--template $TEMPLATE is not quickstart or cluster" ;; esac
  [[ -z "$VERSION" || "$VERSION" =~ ^[0-9A-Za-z._-]+$ ]] || fail "--version ${VERSION@Q} must be letters, digits and '._-'"
  [[ "$STACK_NAME" =~ ^[A-Za-z][A-Za-z0-9-]{0,127}$ ]] || fail "stack name ${STACK_NAME@Q} must start with a letter and hold only letters, digits and '-'"
  [ -z "$LAUNCH" ] || [ -z "$UPDATE" ] || fail "--launch and --update exclude each other"
  [ "$WAIT" = 0 ] || [ -n "$LAUNCH$UPDATE" ] || fail "--wait needs --launch STACK or --update STACK"
  [ -n "$AMI_PARAMETER" ] ||
    AMI_PARAMETER="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-$([ "$ARCH" = aarch64 ] && echo arm64 || echo x86_64)"
}

# --- build ----------------------------------------------------------------------------------

# build: cargo build --release for ARCH; sets BIN_DIR to the binaries' directory.
build() {
  command -v cargo >/dev/null || fail "cargo not found: install Rust (rustup), or pass --bin-dir DIR with prebuilt binaries"
  local target_dir="${CARGO_TARGET_DIR:-$ROOT/target}" triple="$ARCH-unknown-linux-gnu" args=()
  if [ "$ARCH" = "$(uname -m)" ]; then
    BIN_DIR="$target_dir/release"
  else
    local linker="$ARCH-linux-gnu-gcc" env_name
    if ! rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
      fail "cross-building $ARCH on $(uname -m) needs the Rust target: rustup target add $triple (and the linker: apt-get install gcc-${ARCH//_/-}-linux-gnu), or pass --bin-dir DIR with binaries built on an $ARCH machine"
    fi
    command -v "$linker" >/dev/null ||
      fail "cross-building $ARCH needs the linker $linker: apt-get install gcc-${ARCH//_/-}-linux-gnu, or pass --bin-dir DIR with binaries built on an $ARCH machine"
    env_name="CARGO_TARGET_$(echo "$triple" | tr 'a-z-' 'A-Z_')_LINKER"
    export "$env_name=$linker" "CC_${triple//-/_}=$linker"  # the linker, and cc for C dependencies
    args=(--target "$triple")
    BIN_DIR="$target_dir/$triple/release"
  fi
  say "cargo build --release ${args[*]} -p rmq-broker -p rmq-namesrv -p rmq-controller -p rmqctl"
  (cd "$ROOT" && cargo build --release "${args[@]}" -p rmq-broker -p rmq-namesrv -p rmq-controller -p rmqctl) ||
    fail "cargo build failed (see above)"
}

# check_binaries: every binary exists in BIN_DIR and is an ELF executable of ARCH.
check_binaries() {
  local name arch
  for name in "${BINARIES[@]}"; do
    [ -f "$BIN_DIR/$name" ] || fail "$BIN_DIR/$name does not exist (build it, or fix --bin-dir)"
    arch=$(elf_arch "$BIN_DIR/$name")
    [ "$arch" = "$ARCH" ] || fail "$BIN_DIR/$name is $arch, not $ARCH (--arch must match the binaries)"
  done
}

# stage DIR: binaries, NAME.sha256, templates, bootstrap and SHA256SUMS in DIR; sets the hashes
# and VERSION (when not given).
stage() {
  local dir=$1 name sum
  mkdir -p "$dir/templates" "$dir/userdata"
  for name in "${BINARIES[@]}"; do
    cp "$BIN_DIR/$name" "$dir/$name"
    sum=$(sha256sum "$dir/$name" | cut -d' ' -f1)
    printf '%s  %s\n' "$sum" "$name" >"$dir/$name.sha256"
    case "$name" in rmq-broker) BROKER_SHA=$sum ;; rmq-namesrv) NAMESRV_SHA=$sum ;; rmq-controller) CONTROLLER_SHA=$sum ;; esac
  done
  for name in "${TEMPLATES[@]}"; do cp "$ROOT/cloudformation/templates/$name" "$dir/templates/$name"; done
  cp "$ROOT/cloudformation/userdata/node-bootstrap.sh" "$dir/userdata/node-bootstrap.sh"
  cp "$ROOT/cloudformation/userdata/node-secrets.sh" "$dir/rmq-node-secrets"
  sum=$(sha256sum "$dir/rmq-node-secrets" | cut -d' ' -f1)
  printf '%s  %s\n' "$sum" rmq-node-secrets >"$dir/rmq-node-secrets.sha256"
  # The node template pins this script (RMQ_SECRETS_SHA256 of a stack with security parameters).
  grep -q "ScriptSha256: '$sum'" "$dir/templates/rmq-node.yaml" ||
    fail "templates/rmq-node.yaml does not pin userdata/node-secrets.sh ($sum): run python3 cloudformation/tests/sync_userdata.py"
  if [ -z "$VERSION" ]; then
    local described build_hash
    described=$(git -C "$ROOT" describe --tags --always --dirty 2>/dev/null) || described=untracked
    build_hash=$(cat "$dir"/rmq-*.sha256 "$dir/rmqctl.sha256" | sha256sum | cut -c1-8)
    VERSION="${described//[^0-9A-Za-z._-]/_}-$build_hash"
  fi
  (cd "$dir" && find . -type f ! -name SHA256SUMS | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum) >"$dir/SHA256SUMS"
}

# lint: cfn-lint over the templates (CFN_LINT, PATH, or the cloudformation test venv).
lint() {
  local cfn_lint=${CFN_LINT:-}
  [ -n "$cfn_lint" ] || cfn_lint=$(command -v cfn-lint || true)
  if [ -z "$cfn_lint" ]; then
    say "cfn-lint not on PATH: using the cloudformation test venv (bash cloudformation/venv.sh)"
    cfn_lint="$(bash "$ROOT/cloudformation/venv.sh")/bin/cfn-lint"
  fi
  say "cfn-lint templates/*.yaml"
  "$cfn_lint" --regions us-east-1 eu-west-1 -- "$ROOT"/cloudformation/templates/*.yaml ||
    fail "cfn-lint reported findings in cloudformation/templates (fix them, or --skip-lint)"
}

# --- AWS ------------------------------------------------------------------------------------

# aws_cli ARGS...: the AWS CLI in REGION, output as text.
aws_cli() { aws --region "$REGION" --output text "$@"; }

resolve_region() {
  command -v aws >/dev/null || fail "the AWS CLI (aws) is not on PATH: install it (pip install awscli, or AWS CLI v2)"
  [ -n "$REGION" ] || REGION=${AWS_REGION:-${AWS_DEFAULT_REGION:-}}
  [ -n "$REGION" ] || REGION=$(aws configure get region 2>/dev/null || true)
  [ -n "$REGION" ] || fail "no region: pass --region R (or set AWS_REGION)"
}

# refuse_existing KEY_PREFIX: fail if the bucket is missing or anything exists under KEY_PREFIX.
refuse_existing() {
  local count
  count=$(aws_cli s3api list-objects-v2 --bucket "$BUCKET" --prefix "$1" --max-keys 1 --no-paginate \
    --query 'KeyCount') || fail "cannot list s3://$BUCKET/$1 (does the bucket exist? aws s3 mb s3://$BUCKET; credentials?)"
  [ "$count" = 0 ] || fail "s3://$BUCKET/$1 already holds a release: versions are immutable (rebuild, or pass another --version)"
}

# upload DIR KEY_PREFIX: every staged file, SHA256SUMS last; each refused if its key exists.
upload() {
  local dir=$1 key_prefix=$2 file
  while IFS= read -r file; do
    aws_cli s3api put-object --bucket "$BUCKET" --key "$key_prefix$file" --body "$dir/$file" \
      --if-none-match '*' >/dev/null || fail "upload of s3://$BUCKET/$key_prefix$file failed (see above)"
  done < <(cd "$dir" && find . -type f ! -name SHA256SUMS | sed 's|^\./||' | LC_ALL=C sort; echo SHA256SUMS)
  say "uploaded $(wc -l <"$dir/SHA256SUMS") files and SHA256SUMS to s3://$BUCKET/$key_prefix"
}

# validate URL_BASE: CloudFormation's validate-template on every uploaded template.
validate() {
  local name
  for name in "${TEMPLATES[@]}"; do
    aws_cli cloudformation validate-template --template-url "$1templates/$name" >/dev/null ||
      fail "CloudFormation rejected $1templates/$name (see above)"
  done
  say "validate-template: ${#TEMPLATES[@]} templates accepted"
}

# given KEY: true if --param KEY=... was given.
given() { local k; for k in "${PARAM_KEYS[@]}"; do [ "$k" != "$1" ] || return 0; done; return 1; }

# resolve_ami: NODE_AMI from AMI_PARAMETER (SSM), unless --param NodeAmiId or --update (which
# keeps the stack's previous NodeAmiId).
resolve_ami() {
  if given NodeAmiId || [ -n "$UPDATE" ]; then return 0; fi
  NODE_AMI=$(aws_cli ssm get-parameter --name "$AMI_PARAMETER" --query Parameter.Value) ||
    fail "cannot read the AMI id from SSM parameter $AMI_PARAMETER (pass --param NodeAmiId=ami-... or --node-ami-parameter NAME)"
  [[ "$NODE_AMI" =~ ^ami-[0-9a-f]{8,17}$ ]] || fail "SSM parameter $AMI_PARAMETER holds ${NODE_AMI@Q}, not an AMI id"
  say "node AMI $NODE_AMI (from $AMI_PARAMETER, read once: stack updates keep it)"
}

# stack_command URL KEY_PREFIX: the create-stack (or, with --update, update-stack) command line
# (shell-quoted).
stack_command() {
  local keys=(ArtefactBucketName ArtefactKeyPrefix NameServerSha256 BrokerSha256 ControllerSha256)
  local values=("$BUCKET" "$2" "$NAMESRV_SHA" "$BROKER_SHA" "$CONTROLLER_SHA") i j json="" replaced verb=create-stack
  if [ -n "$BUCKET_REGION" ]; then keys+=(ArtefactBucketRegion); values+=("$BUCKET_REGION"); fi
  if [ -n "$NODE_AMI" ]; then keys+=(NodeAmiId); values+=("$NODE_AMI"); fi
  for i in "${!PARAM_KEYS[@]}"; do
    replaced=0
    for j in "${!keys[@]}"; do
      if [ "${keys[$j]}" = "${PARAM_KEYS[$i]}" ]; then values[j]=${PARAM_VALUES[$i]}; replaced=1; fi
    done
    if [ "$replaced" = 0 ]; then keys+=("${PARAM_KEYS[$i]}"); values+=("${PARAM_VALUES[$i]}"); fi
  done
  for i in "${!keys[@]}"; do
    json+="${json:+,}{\"ParameterKey\":$(json_string "${keys[$i]}"),\"ParameterValue\":$(json_string "${values[$i]}")}"
  done
  if [ -n "$UPDATE" ]; then
    verb=update-stack
    # Every other parameter of the stack keeps its value (NodeAmiId too, unless given).
    for i in "${STACK_KEYS[@]}"; do
      replaced=0
      for j in "${keys[@]}"; do [ "$j" != "$i" ] || replaced=1; done
      [ "$replaced" = 1 ] || json+=",{\"ParameterKey\":$(json_string "$i"),\"UsePreviousValue\":true}"
    done
  fi
  printf 'aws cloudformation %s --region %s --stack-name %s --capabilities CAPABILITY_IAM --template-url %s --parameters %s\n' \
    "$verb" "$(shell_quote "$REGION")" "$(shell_quote "$STACK_NAME")" "$(shell_quote "$1")" "$(shell_quote "[$json]")"
}

# stack_keys: STACK_KEYS = the parameter keys of the stack to update (it must exist). A stack
# made before NodeAmiId (its AMI came from the SSM parameter NodeAmiParameter, which the
# templates no longer have) needs the AMI it runs named once.
stack_keys() {
  local listed key kept=()
  listed=$(aws_cli cloudformation describe-stacks --stack-name "$UPDATE" --query 'Stacks[0].Parameters[].ParameterKey') ||
    fail "cannot describe stack $UPDATE (--update needs an existing stack; create one with --launch)"
  read -r -a STACK_KEYS <<<"$listed"
  for key in "${STACK_KEYS[@]}"; do
    if [ "$key" != NodeAmiParameter ]; then kept+=("$key"); continue; fi
    given NodeAmiId || fail "stack $UPDATE takes its node AMI from SSM (NodeAmiParameter), which these templates pin instead: pass --param NodeAmiId=<the AMI it runs now>, from aws cloudformation describe-stacks --stack-name $UPDATE --query \"Stacks[0].Parameters[?ParameterKey=='NodeAmiParameter'].ResolvedValue\" --output text (another AMI replaces every node)"
  done
  STACK_KEYS=("${kept[@]}")
}

main() {
  parse_args "$@"
  resolve_region
  if [ -n "$BIN_DIR" ]; then say "--bin-dir $BIN_DIR: not building"; else build; fi
  check_binaries
  [ "$SKIP_LINT" = 1 ] || lint
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
  stage "$WORK"
  local key_prefix="$PREFIX/$VERSION/" host_region=${BUCKET_REGION:-$REGION}
  local base="https://$BUCKET.s3.$host_region.amazonaws.com/$key_prefix"
  say "release $VERSION ($ARCH) -> s3://$BUCKET/$key_prefix"
  say "rmq-broker  sha256 $BROKER_SHA"
  say "rmq-namesrv sha256 $NAMESRV_SHA"
  say "rmq-controller sha256 $CONTROLLER_SHA"
  STACK_KEYS=()
  if [ -n "$UPDATE" ]; then stack_keys; fi
  resolve_ami
  refuse_existing "$key_prefix"
  upload "$WORK" "$key_prefix"
  validate "$base"
  local command; command=$(stack_command "${base}templates/rmq-$TEMPLATE.yaml" "$key_prefix")
  echo "$command"
  if [ -n "$LAUNCH" ]; then
    say "launching stack $LAUNCH"
    eval "$command" >&2 || fail "create-stack $LAUNCH failed (see above)"
    if [ "$WAIT" = 1 ]; then
      aws_cli cloudformation wait stack-create-complete --stack-name "$LAUNCH" ||
        fail "stack $LAUNCH did not reach CREATE_COMPLETE: aws cloudformation describe-stack-events --stack-name $LAUNCH"
      say "stack $LAUNCH is CREATE_COMPLETE"
    fi
  elif [ -n "$UPDATE" ]; then
    say "updating stack $UPDATE (nodes roll one at a time: nameservers, slaves, masters)"
    eval "$command" >&2 || fail "update-stack $UPDATE failed (see above)"
    if [ "$WAIT" = 1 ]; then
      aws_cli cloudformation wait stack-update-complete --stack-name "$UPDATE" ||
        fail "stack $UPDATE did not reach UPDATE_COMPLETE: aws cloudformation describe-stack-events --stack-name $UPDATE"
      say "stack $UPDATE is UPDATE_COMPLETE"
    fi
  fi
}

main "$@"
