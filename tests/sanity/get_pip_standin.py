"""Stand-in for the get-pip bootstrap script that ansible-test downloads from a host this
workplace cannot reach: bootstrap pip from the interpreter's bundled ensurepip, then install the
pip version ansible-test asks for from PyPI."""
import subprocess
import sys


def main(argv):
    wanted = [arg for arg in argv if arg not in ("--no-setuptools", "--no-wheel")]
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--upgrade"] + wanted)
    if "--no-setuptools" in argv:
        subprocess.call([sys.executable, "-m", "pip", "uninstall", "-y", "-q", "setuptools"])


if __name__ == "__main__":
    main(sys.argv[1:])
