# locusta image: stage 1 builds the wheel (Rust engine + Python package) with maturin, stage 2
# installs it on a slim Python. Run a master and workers from the same image:
#   docker build -t locusta .
#   docker compose up --scale worker=4
FROM python:3.12-slim-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential curl ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
ENV PATH=/root/.cargo/bin:$PATH
RUN pip install --no-cache-dir "maturin>=1.9.4,<2"
WORKDIR /src
COPY . .
RUN maturin build --release --out /wheels

FROM python:3.12-slim-bookworm
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
    && useradd --create-home locusta
USER locusta
WORKDIR /home/locusta
# 5557: the master's port for workers (Locust's default).
EXPOSE 5557
ENTRYPOINT ["locusta"]
CMD ["--help"]
