from setuptools import setup

setup(
    name="webpubsub-emulator",
    version="0.1.0",
    description="Local emulator of Azure Web PubSub for development and tests (not the service)",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    packages=["webpubsub_emulator"],
    package_data={"webpubsub_emulator": ["py.typed", "protos/webpubsub.proto", "protos/webpubsub.binpb"]},
    python_requires=">=3.9",
    # protobuf: the protobuf subprotocols' codec; 4.25 is the first whose GetMessageClass gives nested types.
    # pyjwt: verifies and mints tokens (_jwt.py); 2.8 is the lowest tested, on Python 3.9 and 3.11; a major
    # release may change decode()'s options, so it waits for a test run here.
    install_requires=["aiohttp>=3.9", "protobuf>=4.25", "pyjwt>=2.8,<3"],
    entry_points={
        "console_scripts": ["webpubsub-emulator = webpubsub_emulator._cli:main"],
        "pytest11": ["webpubsub_emulator = webpubsub_emulator.pytest_plugin"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Framework :: Pytest",
        "Development Status :: 3 - Alpha",
    ],
)
