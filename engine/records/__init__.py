"""Audience records (SPEC §2): import, listing, and the bulk writes server actions make.

The executor calls these on batches of thousands of records, so every function issues a
fixed number of SQL statements per call (per 5,000 records), never one per record.
Values are validated before anything is written.
"""

from .csv_import import import_csv
from .read import display_name, list_records, load_records, resolve_record
from .values import (
    USER_MODEL,
    RecordsError,
    coerce_value,
    get_model,
    normalize_address,
    normalize_phone,
)
from .write import (
    add_followers,
    create_records,
    create_tasks,
    remove_followers,
    resolve_users,
    salesperson_ids,
    suppress,
    suppressed,
    write_values,
)

__all__ = [
    "USER_MODEL",
    "RecordsError",
    "add_followers",
    "coerce_value",
    "create_records",
    "create_tasks",
    "display_name",
    "get_model",
    "import_csv",
    "list_records",
    "load_records",
    "normalize_address",
    "normalize_phone",
    "remove_followers",
    "resolve_record",
    "resolve_users",
    "salesperson_ids",
    "suppress",
    "suppressed",
    "write_values",
]
