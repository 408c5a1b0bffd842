import re
from pathlib import Path

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(
    r'VERSION = "([^"]+)"', (HERE / "azure/messaging/webpubsubservice/_version.py").read_text()
).group(1)

setup(
    name="azure-messaging-webpubsubservice",
    version=VERSION,
    description="Azure Web PubSub service client library for Python",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    packages=find_namespace_packages(include=["azure.messaging.webpubsubservice*"]),
    package_data={"azure.messaging.webpubsubservice": ["py.typed"]},
    python_requires=">=3.9",
    # azure-core: pipeline, credentials, errors, paging. isodate: the event handler's `context.time`
    # (ce-time, RFC 3339; datetime.fromisoformat refuses its "Z" before 3.11). typing-extensions:
    # ParamSpec, Concatenate and Literal on Python 3.9. urllib3: the sync client's transport; it comes
    # with azure-core (through requests) anyway. aiohttp ([aio]): the async client's transport.
    install_requires=["azure-core>=1.30.0", "isodate>=0.6.1", "typing-extensions>=4.6.0", "urllib3>=1.26.0"],
    extras_require={"aio": ["aiohttp>=3.10"]},
    classifiers=[
        "Development Status :: 4 - Beta",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.9",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "License :: OSI Approved :: MIT License",
    ],
    zip_safe=False,
)
