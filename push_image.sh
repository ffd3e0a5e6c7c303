#!/usr/bin/env bash
# Build the vidpipe image, push it to ECR (creating the repository if needed) and print its
# ImageUri; with --deploy, run `sam deploy` with it.
#
#   ./push_image.sh [--repo NAME] [--region REGION] [--tag TAG] [--deploy] [--dry-run]
#
# Needs docker and the AWS CLI with credentials; --deploy also needs the SAM CLI. --dry-run
# prints every command instead of running it.
set -euo pipefail

repo="vidpipe"
region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
tag=""
deploy=0
dry_run=0
sam_args=()

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "push_image.sh: $*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --repo) repo="${2:?--repo needs a name}"; shift 2 ;;
    --region) region="${2:?--region needs a region}"; shift 2 ;;
    --tag) tag="${2:?--tag needs a tag}"; shift 2 ;;
    --deploy) deploy=1; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; sam_args=("$@"); break ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

run() {
  if [[ $dry_run -eq 1 ]]; then
    printf '+'; printf ' %q' "$@"; printf '\n'
  else
    "$@"
  fi
}

# Like run, but a real run's output is not needed.
run_quiet() {
  if [[ $dry_run -eq 1 ]]; then
    run "$@"
  else
    "$@" >/dev/null
  fi
}

command -v docker >/dev/null 2>&1 || die "docker is not installed (https://docs.docker.com/get-docker/)"
command -v aws >/dev/null 2>&1 || die "the AWS CLI is not installed"
if [[ $deploy -eq 1 ]]; then
  command -v sam >/dev/null 2>&1 || die "--deploy needs the SAM CLI (pip install aws-sam-cli)"
fi

cd "$(dirname "$0")"
if [[ -z "$tag" ]]; then
  tag="$(git rev-parse --short=12 HEAD 2>/dev/null)" || die "not a git checkout; pass --tag"
  if [[ -n "$(git status --porcelain 2>/dev/null)" ]]; then
    tag="${tag}-dirty"
  fi
fi
[[ -n "$region" ]] || region="$(aws configure get region 2>/dev/null || true)"
[[ -n "$region" ]] || die "no AWS region: pass --region or set AWS_REGION"
account="$(aws sts get-caller-identity --query Account --output text 2>/dev/null)" \
  || die "AWS credentials are missing or expired (aws sts get-caller-identity failed)"

registry="${account}.dkr.ecr.${region}.amazonaws.com"
image="${registry}/${repo}:${tag}"

if ! aws ecr describe-repositories --repository-names "$repo" --region "$region" >/dev/null 2>&1; then
  run_quiet aws ecr create-repository --repository-name "$repo" --region "$region" \
    --image-scanning-configuration scanOnPush=true
fi
if [[ $dry_run -eq 1 ]]; then
  run aws ecr get-login-password --region "$region"
  run docker login --username AWS --password-stdin "$registry"
else
  aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry"
fi
run docker build --platform linux/amd64 --provenance=false -t "$image" .
run docker push "$image"
echo "ImageUri=${image}"

if [[ $deploy -eq 1 ]]; then
  run sam deploy --template-file template.yaml --region "$region" --resolve-s3 \
    --capabilities CAPABILITY_IAM --image-repository "${registry}/${repo}" \
    --parameter-overrides "ImageUri=${image}" "${sam_args[@]}"
fi
