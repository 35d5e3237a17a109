# One image for web, worker and gpu-worker. Build: docker build . ; with CUDA torch for GPU nodes:
#   docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 .
# Stage 1 builds the browser app; stage 2 is the Python app, which serves it (whitenoise) and runs the workers.
FROM node:22-slim AS frontend
WORKDIR /frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY frontend/index.html frontend/vite.config.ts frontend/tsconfig.json ./
COPY frontend/src src
RUN npm run build --silent

FROM python:3.11-slim
# Static files live in the image, wherever ANNOTATE_VAR_DIR (run-time data) points.
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 DJANGO_STATIC_ROOT=/app/static
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml ./
COPY annotate annotate
COPY labeling labeling
COPY rewardtrain rewardtrain
COPY manage.py ./
# CPU wheels by default; GPU nodes' images set TORCH_INDEX to a CUDA index (same code, same image otherwise).
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --no-cache-dir --extra-index-url ${TORCH_INDEX} .
# The SPA's index.html is read from frontend/dist (settings.FRONTEND_DIST); collectstatic copies its bundle.
COPY --from=frontend /frontend/dist frontend/dist
RUN DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput -v0 \
    && test -f frontend/dist/index.html && ls /app/static/assets/*.js >/dev/null
EXPOSE 8000
CMD ["gunicorn", "annotate.wsgi", "-c", "python:annotate.gunicorn_conf", "--bind", "0.0.0.0:8000", "--workers", "4", "--threads", "2"]
