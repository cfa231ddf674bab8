"""
Print the text of the PDF on standard input, for feedback/mail.py.

Run as its own process, with limits on memory and CPU set before the PDF is
touched, so a hostile file can only stop this process, never the job that
reads the mailbox. Arguments: pages to read, memory limit in bytes, CPU seconds.
"""

import io
import resource
import sys


def main() -> None:
    pages, memory, seconds = (int(argument) for argument in sys.argv[1:4])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(sys.stdin.buffer.read()))
    for number, page in enumerate(reader.pages):
        if number >= pages:
            sys.stdout.write(f"\n[Only the first {pages} pages were read.]\n")
            break
        sys.stdout.write((page.extract_text() or "") + "\n\n")


if __name__ == "__main__":
    main()
