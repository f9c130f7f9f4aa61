# The cluster image (cluster.yaml's docker.image): Ray's GPU image with every dependency of kdssm
# baked in, so a node the autoscaler adds is ready once Docker has pulled, with no pip at start.
#   docker build -t <registry>/kdssm:0.1.0 . && docker push <registry>/kdssm:0.1.0
# The Ray version and Python of the base match pyproject.toml (tests/test_cluster_yaml.py checks).
# The code itself is not baked: cluster.yaml mounts this checkout and installs it without deps.
FROM rayproject/ray:2.60.0-py311-gpu

# Built and run as Ray's unprivileged user `ray` (uid 1000, owner of the image's Python in
# /home/ray/anaconda3), said here rather than inherited from the base; nothing in this file runs as root.
USER ray

# torch first, pinned exactly (the README's rule; on Linux the CUDA wheel), then the project's own
# dependency list read from its pyproject by installing the package and removing it again.
COPY --chown=ray:users pyproject.toml README.md /tmp/kdssm/
COPY --chown=ray:users kdssm /tmp/kdssm/kdssm
COPY --chown=ray:users tune /tmp/kdssm/tune
RUN pip install --no-cache-dir torch==2.13.0 \
    && pip install --no-cache-dir /tmp/kdssm "s3fs>=2024.1" \
    && pip uninstall -y kdssm \
    && rm -rf /tmp/kdssm
