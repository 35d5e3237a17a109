FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml ./
COPY annotate annotate
COPY labeling labeling
COPY rewardtrain rewardtrain
COPY manage.py ./
# CPU wheels by default; the gpu-worker image sets TORCH_INDEX to a CUDA index.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --no-cache-dir --extra-index-url ${TORCH_INDEX} .
RUN DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput -v0
EXPOSE 8000
CMD ["gunicorn", "annotate.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4", "--threads", "2"]
