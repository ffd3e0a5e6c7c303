# One image for every vidpipe Lambda function; each function picks its handler with
# ImageConfig.Command in template.yaml. Default: frame-extract.
FROM public.ecr.aws/lambda/python:3.12

# Dependencies first, from pyproject.toml alone, so code changes reuse this layer.
COPY pyproject.toml requirements-mediapipe.txt ${LAMBDA_TASK_ROOT}/
RUN python -c "import tomllib; deps = tomllib.load(open('${LAMBDA_TASK_ROOT}/pyproject.toml', 'rb'))['project']['dependencies']; open('/tmp/requirements.txt', 'w').write(chr(10).join(deps))" \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt \
    # MediaPipe without its declared extras (jax, a second OpenCV): see requirements-mediapipe.txt
    && pip install --no-cache-dir --no-deps -r ${LAMBDA_TASK_ROOT}/requirements-mediapipe.txt \
    # exactly one OpenCV, the headless build (Lambda has no libGL)
    && pip uninstall -y opencv-python opencv-contrib-python 2>/dev/null; \
    python -c "import cv2, mediapipe; print('cv2', cv2.__version__, 'mediapipe', mediapipe.__version__)"

COPY shared/ ${LAMBDA_TASK_ROOT}/shared/
COPY functions/ ${LAMBDA_TASK_ROOT}/functions/

# Import every handler and settings class the stage registry names (shared/stages.py) at build
# time: a broken entrypoint fails the build, not the first event. vidpipe/ (the CLI and local
# tooling) is not copied: the functions never import it.
RUN python -m shared.stages

CMD ["functions.frame_extract.handler.lambda_handler"]
