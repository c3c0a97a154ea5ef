"""maskrcnn-tfx: a TFX pipeline that trains, evaluates and serves Mask R-CNN."""

from setuptools import find_packages, setup

# The project's packages, named once: the image installs them (Dockerfile), its tag hashes them
# (scripts/container reads this line), tests/test_structure.py checks them.
PACKAGES = ("pipeline", "components", "dataset", "kubeflow", "storage", "sample_data")

setup(
    name="maskrcnn-tfx",
    version="0.1.0",
    description="A containerized TFX pipeline for Mask R-CNN instance segmentation "
    "(TF Model Garden) from a folder of photos and masks or COCO annotations.",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=[name for package in PACKAGES for name in (package, f"{package}.*")]),
    package_data={"components": ["trainer/configs/*.yaml", "schema_gen/*.pbtxt"]},
    # The pinned stack is requirements/cpu.lock (installed in the image), not listed here.
    install_requires=[],
    entry_points={"console_scripts": ["maskrcnn-tfx = pipeline.cli:entry"]},
    classifiers=[
        "Programming Language :: Python :: 3.13",
        "Topic :: Scientific/Engineering :: Image Recognition",
    ],
)
