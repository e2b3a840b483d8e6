"""The web service: accounts, uploads, a job queue, a gallery and payment, on top of `fst.stylize`."""
