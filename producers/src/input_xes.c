/*
 * input_xes.c - the XES process-log adapter (IEEE 1849 XML event logs).
 *
 * The file is read with libxml2's xmlTextReader, so memory stays bounded by
 * one trace's attributes whatever the size of the log.  Attributes of a
 * <trace> become case attributes ("case:<key>", as in the CSV export of
 * XES); attributes of an <event> keep their key.  Nested attributes (lists,
 * containers, meta-attributes) and <global> defaults are not read.  A
 * trace attribute applies to the events after it in the file, which is all
 * of them when the writer puts attributes first, as XES writers do.
 *
 * Entity expansion and network access are off: the reader gets no
 * XML_PARSE_NOENT, XML_PARSE_DTDLOAD or XML_PARSE_DTDATTR, gets
 * XML_PARSE_NONET, and a document with a DOCTYPE is rejected
 * before its root element is read.
 */
#include <errno.h>
#include <libxml/xmlreader.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ma/alloc.h"
#include "ma/input.h"
#include "mapping.h"

#define MA_XES_OPTIONS (XML_PARSE_NONET | XML_PARSE_BIG_LINES)

typedef struct ma_xes_attribute {
        char *key;
        char *value;
} ma_xes_attribute_t;

typedef struct ma_xes_attributes {
        ma_xes_attribute_t *items;
        size_t count;
        size_t capacity;
} ma_xes_attributes_t;

typedef struct ma_xes_input {
        ma_input_t base;
        char *path;
        xmlTextReaderPtr reader;
        ma_log_converter_t *converter;
        ma_xes_attributes_t trace;
        ma_xes_attributes_t event;
        bool seen_root;
        bool in_trace;
        bool in_event;
        int trace_depth;
        int event_depth;
        long event_line;
        long text_end_line; /* where the text node just read ends, or 0 */
        uint64_t total;
        char xml_error[300]; /* the first libxml2 error, "" if none */
} ma_xes_input_t;

/* ---- attributes ---------------------------------------------------------- */

static void ma_xes_attributes_clear(ma_xes_attributes_t *attributes)
{
        for (size_t i = 0; i < attributes->count; i++) {
                ma_free(attributes->items[i].key);
                ma_free(attributes->items[i].value);
        }
        attributes->count = 0;
}

static void ma_xes_attributes_free(ma_xes_attributes_t *attributes)
{
        ma_xes_attributes_clear(attributes);
        ma_free(attributes->items);
        attributes->items = NULL;
        attributes->capacity = 0;
}

/* Sets key to value; a repeated key keeps the last value. */
static bool ma_xes_attributes_set(ma_xes_attributes_t *attributes,
                                  const char *key, const char *value)
{
        char *copy = ma_strdup(value);
        if (copy == NULL)
                return false;
        for (size_t i = 0; i < attributes->count; i++) {
                if (strcmp(attributes->items[i].key, key) == 0) {
                        ma_free(attributes->items[i].value);
                        attributes->items[i].value = copy;
                        return true;
                }
        }
        if (attributes->count == attributes->capacity) {
                size_t capacity =
                        attributes->capacity ? attributes->capacity * 2 : 16;
                ma_xes_attribute_t *grown = ma_realloc(
                        attributes->items, capacity * sizeof(*grown));
                if (grown == NULL) {
                        ma_free(copy);
                        return false;
                }
                attributes->items = grown;
                attributes->capacity = capacity;
        }
        char *key_copy = ma_strdup(key);
        if (key_copy == NULL) {
                ma_free(copy);
                return false;
        }
        attributes->items[attributes->count].key = key_copy;
        attributes->items[attributes->count].value = copy;
        attributes->count++;
        return true;
}

static const char *ma_xes_attributes_get(const ma_xes_attributes_t *attributes,
                                         const char *key)
{
        for (size_t i = 0; i < attributes->count; i++)
                if (strcmp(attributes->items[i].key, key) == 0)
                        return attributes->items[i].value;
        return NULL;
}

static const char *ma_xes_lookup(const void *source, const char *key)
{
        const ma_xes_input_t *input = source;
        if (strncmp(key, "case:", 5) == 0)
                return ma_xes_attributes_get(&input->trace, key + 5);
        return ma_xes_attributes_get(&input->event, key);
}

/* ---- libxml2 ------------------------------------------------------------- */

static void ma_xes_on_error(void *user, xmlErrorPtr error)
{
        ma_xes_input_t *input = user;
        if (input->xml_error[0] != '\0' || error == NULL)
                return;
        char message[240];
        snprintf(message, sizeof(message), "%s",
                 error->message != NULL ? error->message : "unknown error");
        size_t len = strlen(message);
        while (len > 0 && message[len - 1] == '\n')
                message[--len] = '\0';
        snprintf(input->xml_error, sizeof(input->xml_error), "line %d: %s",
                 error->line, message);
}

/*
 * Returns the line of the current node.  Nodes store lines in 16 bits.
 * Past line 65534, libxml2 2.9 keeps the full line only for text nodes
 * (XML_PARSE_BIG_LINES), recorded where the text ends.  So an element
 * there gets the line at which the whitespace before it ended, and
 * xmlGetLineNo() is the fallback when there was none.
 */
static long ma_xes_node_line(ma_xes_input_t *input)
{
        xmlNodePtr node = xmlTextReaderCurrentNode(input->reader);
        if (node != NULL && node->type == XML_ELEMENT_NODE &&
            node->line == 65535 && input->text_end_line > 0)
                return input->text_end_line;
        long line = node != NULL ? xmlGetLineNo(node) : -1;
        if (line <= 0)
                line = xmlTextReaderGetParserLineNumber(input->reader);
        return line;
}

static bool ma_xes_is_attribute_element(const char *name)
{
        static const char *const names[] = {"string",  "date", "int", "float",
                                            "boolean", "id",   NULL};
        for (size_t i = 0; names[i] != NULL; i++)
                if (strcmp(name, names[i]) == 0)
                        return true;
        return false;
}

/* Stores <string key=".." value=".."/> into the trace or event in scope. */
static bool ma_xes_read_attribute(ma_xes_input_t *input, int depth)
{
        ma_xes_attributes_t *target = NULL;
        if (input->in_event && depth == input->event_depth + 1)
                target = &input->event;
        else if (input->in_trace && !input->in_event &&
                 depth == input->trace_depth + 1)
                target = &input->trace;
        if (target == NULL)
                return true;
        xmlChar *key = xmlTextReaderGetAttribute(input->reader, BAD_CAST "key");
        xmlChar *value =
                xmlTextReaderGetAttribute(input->reader, BAD_CAST "value");
        bool ok = true;
        if (key != NULL && value != NULL)
                ok = ma_xes_attributes_set(target, (const char *)key,
                                           (const char *)value);
        xmlFree(key);
        xmlFree(value);
        return ok;
}

/* ---- the adapter --------------------------------------------------------- */

/* Fails the source; line 0 means the parser's position. */
static ma_input_outcome_t ma_xes_fail(ma_xes_input_t *input, long line,
                                      ma_input_location_t *loc, ma_error_t *err,
                                      const char *what)
{
        loc->line = line > 0 ? line
                             : xmlTextReaderGetParserLineNumber(input->reader);
        ma_error_set(err, MA_ERR_PARSE, NULL, "could not read XES log %s: %s",
                     input->path, what);
        return MA_INPUT_FAIL;
}

/* Handles a start tag; sets *complete when it was an empty <event/>. */
static ma_input_outcome_t
ma_xes_start_element(ma_xes_input_t *input, const char *name, int depth,
                     bool *complete, ma_input_location_t *loc, ma_error_t *err)
{
        bool empty = xmlTextReaderIsEmptyElement(input->reader) == 1;
        if (!input->seen_root) {
                input->seen_root = true;
                if (strcmp(name, "log") != 0) {
                        char what[160];
                        snprintf(what, sizeof(what),
                                 "the root element is <%.60s>, not <log>; "
                                 "is this an XES file?",
                                 name);
                        return ma_xes_fail(input, ma_xes_node_line(input), loc,
                                           err, what);
                }
                return MA_INPUT_EVENT;
        }
        if (strcmp(name, "trace") == 0 && depth == 1) {
                ma_xes_attributes_clear(&input->trace);
                input->in_trace = !empty;
                input->trace_depth = depth;
        } else if (strcmp(name, "event") == 0 &&
                   (depth == 1 || (input->in_trace && depth == 2))) {
                ma_xes_attributes_clear(&input->event);
                input->in_event = true;
                input->event_depth = depth;
                input->event_line = ma_xes_node_line(input);
                *complete = empty;
        } else if (ma_xes_is_attribute_element(name)) {
                if (!ma_xes_read_attribute(input, depth)) {
                        ma_error_set(err, MA_ERR_NOMEM, NULL,
                                     "out of memory reading %s", input->path);
                        return MA_INPUT_FAIL;
                }
        }
        return MA_INPUT_EVENT;
}

/* Converts the event just closed. */
static ma_input_outcome_t ma_xes_emit(ma_xes_input_t *input, ma_event_t *event,
                                      ma_input_location_t *loc,
                                      const char **skip_reason, ma_error_t *err)
{
        input->in_event = false;
        loc->line = input->event_line;
        if (input->event_depth == 1) {
                ma_error_set(err, MA_ERR_INVALID, NULL,
                             "<event> outside a <trace>; XES events belong "
                             "to the trace of their case");
                return MA_INPUT_REJECT;
        }
        ma_log_record_t record = {.lookup = ma_xes_lookup, .source = input};
        return ma_log_converter_apply(input->converter, &record, event,
                                      skip_reason, err);
}

static ma_input_outcome_t ma_xes_next(ma_input_t *base, ma_event_t *event,
                                      ma_input_location_t *loc,
                                      const char **skip_reason, ma_error_t *err)
{
        ma_xes_input_t *input = (ma_xes_input_t *)base;
        loc->file = input->path;
        loc->line = 0;
        int ret;
        while ((ret = xmlTextReaderRead(input->reader)) == 1) {
                int type = xmlTextReaderNodeType(input->reader);
                int depth = xmlTextReaderDepth(input->reader);
                const char *name = (const char *)xmlTextReaderConstLocalName(
                        input->reader);
                if (type == XML_READER_TYPE_DOCUMENT_TYPE)
                        return ma_xes_fail(input, ma_xes_node_line(input), loc,
                                           err,
                                           "the document has a DOCTYPE; XES "
                                           "needs none, and DTDs are rejected "
                                           "so that entities cannot expand");
                if (type == XML_READER_TYPE_WHITESPACE ||
                    type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE ||
                    type == XML_READER_TYPE_TEXT) {
                        xmlNodePtr node =
                                xmlTextReaderCurrentNode(input->reader);
                        input->text_end_line =
                                node != NULL ? xmlGetLineNo(node) : 0;
                        continue;
                }
                if (type == XML_READER_TYPE_ELEMENT && name != NULL) {
                        bool complete = false;
                        ma_input_outcome_t outcome = ma_xes_start_element(
                                input, name, depth, &complete, loc, err);
                        input->text_end_line = 0;
                        if (outcome != MA_INPUT_EVENT)
                                return outcome;
                        if (complete)
                                return ma_xes_emit(input, event, loc,
                                                   skip_reason, err);
                } else if (type == XML_READER_TYPE_END_ELEMENT &&
                           name != NULL) {
                        input->text_end_line = 0;
                        if (input->in_event && depth == input->event_depth &&
                            strcmp(name, "event") == 0)
                                return ma_xes_emit(input, event, loc,
                                                   skip_reason, err);
                        if (input->in_trace && depth == input->trace_depth &&
                            strcmp(name, "trace") == 0)
                                input->in_trace = false;
                }
        }
        if (ret < 0)
                return ma_xes_fail(input, 0, loc, err,
                                   input->xml_error[0] != '\0'
                                           ? input->xml_error
                                           : "the XML is not well-formed");
        if (!input->seen_root)
                return ma_xes_fail(input, 0, loc, err,
                                   "the file has no root element");
        return MA_INPUT_END;
}

static void ma_xes_progress(const ma_input_t *base, uint64_t *done,
                            uint64_t *total)
{
        const ma_xes_input_t *input = (const ma_xes_input_t *)base;
        long consumed = xmlTextReaderByteConsumed(input->reader);
        *done = consumed > 0 ? (uint64_t)consumed : 0;
        *total = input->total;
}

static void ma_xes_close(ma_input_t *base)
{
        ma_xes_input_t *input = (ma_xes_input_t *)base;
        if (input->reader != NULL)
                xmlFreeTextReader(input->reader);
        ma_log_converter_free(input->converter);
        ma_xes_attributes_free(&input->trace);
        ma_xes_attributes_free(&input->event);
        ma_free(input->path);
        ma_free(input);
}

static const struct ma_input_ops ma_xes_ops = {
        .name = "xes",
        .next = ma_xes_next,
        .close = ma_xes_close,
        .progress = ma_xes_progress,
};

static ma_status_t ma_xes_open_reader(ma_xes_input_t *input, const char *path,
                                      ma_error_t *err)
{
        /* Opened here first so a missing file gets errno, not a parse error. */
        FILE *probe = fopen(path, "rb");
        if (probe == NULL)
                return ma_error_set(
                        err, errno == ENOENT ? MA_ERR_NOT_FOUND : MA_ERR_IO,
                        NULL, "could not open \"%s\": %s", path,
                        strerror(errno));
        struct stat info;
        if (fstat(fileno(probe), &info) == 0 && S_ISREG(info.st_mode))
                input->total = (uint64_t)info.st_size;
        fclose(probe);
        input->reader = xmlReaderForFile(path, NULL, MA_XES_OPTIONS);
        if (input->reader == NULL)
                return ma_error_set(err, MA_ERR_IO, NULL,
                                    "could not open \"%s\" as XML", path);
        xmlTextReaderSetStructuredErrorHandler(input->reader, ma_xes_on_error,
                                               input);
        return MA_OK;
}

ma_status_t ma_input_xes_open(const char *path,
                              const ma_process_log_options_t *options,
                              const ma_input_defaults_t *defaults,
                              ma_input_t **input_out, ma_error_t *err)
{
        *input_out = NULL;
        ma_xes_input_t *input = ma_calloc(1, sizeof(*input));
        if (input == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "out of memory for the XES adapter");
        input->base.ops = &ma_xes_ops;
        ma_status_t st = MA_OK;
        input->path = ma_strdup(path);
        if (input->path == NULL)
                st = ma_error_set(err, MA_ERR_NOMEM, NULL,
                                  "out of memory for the XES adapter");
        if (st == MA_OK)
                st = ma_log_converter_open(options, defaults, &input->converter,
                                           err);
        if (st == MA_OK)
                st = ma_xes_open_reader(input, path, err);
        if (st != MA_OK) {
                ma_xes_close(&input->base);
                return st;
        }
        *input_out = &input->base;
        return MA_OK;
}
