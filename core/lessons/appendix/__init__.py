"""The appendix: A math refresher (``math``), B best practices and D resources (``practices``), C the live
error guide (``errors_guide``, snippets run by ``harness``), E the glossary (``glossary``) and F the
gallery search (``search``)."""
