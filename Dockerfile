# The image a Hugging Face Docker Space runs (README front matter: sdk: docker, app_port: 8501),
# and what anyone can run:  docker build -t hero . && docker run -p 8501:8501 hero
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    GRADIO_ANALYTICS_ENABLED=False \
    STREAMLIT_SERVER_FILE_WATCHER_TYPE=none \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    HERO_CACHE=/home/user/.cache/pytorch-zero-to-hero

# Spaces run the container as uid 1000; own the app and the cache as that user.
RUN useradd --create-home --uid 1000 user
WORKDIR /home/user/app

COPY --chown=user requirements.txt .
# CPU wheels keep the image small; on a GPU host, install the CUDA build of torch==2.14.1 instead.
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt

COPY --chown=user . .
USER user

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health').status != 200)"

CMD ["python", "-m", "ui.server", "--server.port=8501", "--server.address=0.0.0.0", "--server.fileWatcherType=none"]
