#!/usr/bin/env bash
# Build the vidpipe image, push it to ECR (creating the repository if needed) and print its
# ImageUri; with --deploy, run `sam deploy` with it.
#
#   ./push_image.sh [--repo NAME] [--region REGION] [--account ID] [--tag TAG] [--deploy]
#                   [--dry-run] [-- SAM_PARAMETER_OVERRIDES...]
#
# Needs docker and the AWS CLI with credentials; --deploy also needs the SAM CLI.
# --dry-run prints the commands a real run would run and runs none of them: no AWS call at all.
# The account comes from --account or AWS_ACCOUNT_ID (else the placeholder ACCOUNT_ID), the
# region from --region, AWS_REGION or AWS_DEFAULT_REGION (else REGION).

set -euo pipefail

repo="vidpipe"
region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
account="${AWS_ACCOUNT_ID:-}"
tag=""
deploy=0
dry_run=0
sam_args=()

# The help is the comment block at the top of this file (up to its first non-comment line).
usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; }
die() { echo "push_image.sh: $*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --repo) repo="${2:?--repo needs a name}"; shift 2 ;;
    --region) region="${2:?--region needs a region}"; shift 2 ;;
    --account) account="${2:?--account needs an account id}"; shift 2 ;;
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
if [[ -n "$account" && ! "$account" =~ ^[0-9]{12}$ ]]; then
  die "--account must be a 12-digit AWS account id, got '$account'"
fi

if [[ $dry_run -eq 1 ]]; then
  # Nothing below may call AWS or docker: unknown values are placeholders.
  region="${region:-REGION}"
  account="${account:-ACCOUNT_ID}"
  registry="${account}.dkr.ecr.${region}.amazonaws.com"
  image="${registry}/${repo}:${tag}"
  if [[ "$account" == ACCOUNT_ID || "$region" == REGION ]]; then
    echo "push_image.sh: dry run; ACCOUNT_ID/REGION stand for values a real run asks AWS for" \
      "(pass --account and --region to fill them in)" >&2
  fi
  run aws ecr describe-repositories --repository-names "$repo" --region "$region"
  echo "# only if describe-repositories finds no repository:"
  run aws ecr create-repository --repository-name "$repo" --region "$region" \
    --image-scanning-configuration scanOnPush=true
  run aws ecr get-login-password --region "$region"
  run docker login --username AWS --password-stdin "$registry"
else
  [[ -n "$region" ]] || region="$(aws configure get region 2>/dev/null || true)"
  [[ -n "$region" ]] || die "no AWS region: pass --region or set AWS_REGION"
  caller="$(aws sts get-caller-identity --query Account --output text 2>/dev/null)" \
    || die "AWS credentials are missing or expired (aws sts get-caller-identity failed)"
  if [[ -n "$account" && "$account" != "$caller" ]]; then
    die "--account $account is not the account of these credentials ($caller)"
  fi
  account="$caller"
  registry="${account}.dkr.ecr.${region}.amazonaws.com"
  image="${registry}/${repo}:${tag}"
  if ! aws ecr describe-repositories --repository-names "$repo" --region "$region" >/dev/null 2>&1; then
    aws ecr create-repository --repository-name "$repo" --region "$region" \
      --image-scanning-configuration scanOnPush=true >/dev/null
  fi
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
