# The proxy alone; run it beside the official vLLM image (deploy/compose.yaml).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY tts_proxy ./tts_proxy
RUN pip install --no-cache-dir .
ENV TTS_HOST=0.0.0.0 TTS_PORT=8000
EXPOSE 8000
ENTRYPOINT ["tts-proxy", "serve"]
