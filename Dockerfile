# One image for every vidpipe Lambda function; each function picks its handler with
# ImageConfig.Command in template.yaml. Default: frame-extract.
#
# Reproducible builds (docs/deploy.md, "Reproducible builds"): the base image is meant to be
# pinned by digest, and the dependencies come from lock files with hashes.
#
# NOT YET PINNED BY DIGEST: the digest of public.ecr.aws/lambda/python:3.12 could not be resolved
# when the pin was introduced (the build machine had no registry access), and a digest must not be
# guessed. Resolve it with the command in docs/deploy.md and set the default below to
# public.ecr.aws/lambda/python:3.12@sha256:<digest>, or pass --build-arg BASE_IMAGE=...@sha256:...
ARG BASE_IMAGE=public.ecr.aws/lambda/python:3.12
FROM ${BASE_IMAGE}

# Dependencies first, from the locks alone, so code changes reuse this layer. Every package and
# version is fixed and every file checked against its hash: nothing resolves at build time.
COPY requirements.lock requirements-mediapipe.lock ${LAMBDA_TASK_ROOT}/
RUN pip install --no-cache-dir --require-hashes -r ${LAMBDA_TASK_ROOT}/requirements.lock \
    # MediaPipe without its declared extras (jax, a second OpenCV): see requirements-mediapipe.txt
    && pip install --no-cache-dir --no-deps --require-hashes -r ${LAMBDA_TASK_ROOT}/requirements-mediapipe.lock \
    # exactly one OpenCV, the headless build (Lambda has no libGL); the lock holds no other, this
    # only guards against a base image that brings one
    && pip uninstall -y opencv-python opencv-contrib-python 2>/dev/null; \
    python -c "import cv2, mediapipe; print('cv2', cv2.__version__, 'mediapipe', mediapipe.__version__)"

COPY shared/ ${LAMBDA_TASK_ROOT}/shared/
COPY functions/ ${LAMBDA_TASK_ROOT}/functions/

# Import every handler and settings class the stage registry names (shared/stages.py) at build
# time: a broken entrypoint fails the build, not the first event. vidpipe/ (the CLI and local
# tooling) is not copied: the functions never import it.
RUN python -m shared.stages \
    # the trailer stage's encoders inside PyAV's wheel (libx264, aac, libvpx-vp9, libopus)
    && python -m functions.trailer.render

CMD ["functions.frame_extract.handler.lambda_handler"]
