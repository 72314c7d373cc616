"""Invoices: issuers' details and logos, the invoice's math, gap-free numbers, the PDF."""
