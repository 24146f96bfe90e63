"""What waits for a person: the admin's "Needs attention" page and its line on the admin index.

queries  the counts, ages and oldest rows of each queue, in a fixed number of queries
admin    the page, in the admin, behind each queue's view permission
"""
