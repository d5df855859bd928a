-- A store made by chatdesk at commit 58f55b0 (schema version 1, before Alembic): its tables,
-- indexes and rows. The FTS5 index and its triggers (derived from message.text; chatdesk
-- recreates and fills them at open) are left out. Made by running that commit's store code.
BEGIN TRANSACTION;
CREATE TABLE meta (
	"key" VARCHAR(64) NOT NULL, 
	value VARCHAR(255) NOT NULL, 
	PRIMARY KEY ("key")
);
CREATE TABLE account (
	id INTEGER NOT NULL, 
	name VARCHAR(64) NOT NULL, 
	marketplace VARCHAR(16) NOT NULL, 
	base_url VARCHAR(500), 
	settings TEXT NOT NULL, 
	poll_interval INTEGER, 
	enabled BOOLEAN NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE chat (
	id INTEGER NOT NULL, 
	account_id INTEGER NOT NULL, 
	external_id VARCHAR(255) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	customer VARCHAR(255), 
	order_id VARCHAR(64), 
	product_id VARCHAR(64), 
	status VARCHAR(64), 
	reply_token VARCHAR(1000), 
	context TEXT NOT NULL, 
	version VARCHAR(64), 
	last_message_id VARCHAR(64), 
	last_buyer_message_id VARCHAR(64), 
	last_message_at DATETIME, 
	last_buyer_at DATETIME, 
	last_author VARCHAR(16), 
	preview VARCHAR(300), 
	unread INTEGER NOT NULL, 
	marketplace_unread INTEGER, 
	resolved_at DATETIME, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_chat_account_external UNIQUE (account_id, external_id), 
	FOREIGN KEY(account_id) REFERENCES account (id)
);
CREATE TABLE syncstate (
	id INTEGER NOT NULL, 
	account_id INTEGER NOT NULL, 
	stream VARCHAR(32) NOT NULL, 
	cursor VARCHAR(255), 
	last_attempt_at DATETIME, 
	last_success_at DATETIME, 
	last_error VARCHAR(1000), 
	error_kind VARCHAR(32), 
	backoff_until DATETIME, 
	failures INTEGER NOT NULL, 
	unavailable VARCHAR(500), 
	next_poll_at DATETIME, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_syncstate_account_stream UNIQUE (account_id, stream), 
	FOREIGN KEY(account_id) REFERENCES account (id)
);
CREATE TABLE lease (
	account_id INTEGER NOT NULL, 
	owner VARCHAR(128) NOT NULL, 
	expires_at DATETIME NOT NULL, 
	PRIMARY KEY (account_id), 
	FOREIGN KEY(account_id) REFERENCES account (id)
);
CREATE TABLE message (
	id INTEGER NOT NULL, 
	chat_id INTEGER NOT NULL, 
	external_id VARCHAR(255), 
	author VARCHAR(16) NOT NULL, 
	text TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	attachments TEXT NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	error VARCHAR(1000), 
	PRIMARY KEY (id), 
	CONSTRAINT uq_message_chat_external UNIQUE (chat_id, external_id), 
	FOREIGN KEY(chat_id) REFERENCES chat (id)
);
CREATE TABLE draft (
	chat_id INTEGER NOT NULL, 
	text TEXT NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (chat_id), 
	FOREIGN KEY(chat_id) REFERENCES chat (id)
);
CREATE TABLE followup (
	id INTEGER NOT NULL, 
	chat_id INTEGER NOT NULL, 
	due_at DATETIME NOT NULL, 
	text TEXT NOT NULL, 
	template VARCHAR(64), 
	rule VARCHAR(64), 
	state VARCHAR(16) NOT NULL, 
	reason VARCHAR(1000), 
	cancel_if_buyer_writes BOOLEAN NOT NULL, 
	overrides TEXT NOT NULL, 
	message_id INTEGER, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(chat_id) REFERENCES chat (id), 
	FOREIGN KEY(message_id) REFERENCES message (id)
);
CREATE TABLE outbox (
	id INTEGER NOT NULL, 
	message_id INTEGER NOT NULL, 
	account_id INTEGER NOT NULL, 
	files TEXT NOT NULL, 
	overrides TEXT NOT NULL, 
	attempts INTEGER NOT NULL, 
	next_attempt_at DATETIME, 
	claimed_by VARCHAR(128), 
	claimed_until DATETIME, 
	done BOOLEAN NOT NULL, 
	followup_id INTEGER, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (message_id), 
	FOREIGN KEY(message_id) REFERENCES message (id), 
	FOREIGN KEY(account_id) REFERENCES account (id), 
	FOREIGN KEY(followup_id) REFERENCES followup (id)
);
INSERT INTO "meta" VALUES('schema_version','1');
INSERT INTO "account" VALUES(1,'wb-main','wildberries',NULL,'{}',NULL,1,'2026-11-29 21:13:03.735272');
INSERT INTO "account" VALUES(2,'ozon-main','ozon',NULL,'{"client_id": "42"}',NULL,1,'2026-11-29 21:13:03.737000');
INSERT INTO "chat" VALUES(1,1,'w0','chat','Покупатель 0','ord-0',NULL,NULL,NULL,'{"nmID": "123"}',NULL,'w0-3','w0-2','2026-03-01 10:03:00.000000','2026-03-01 10:02:00.000000','seller','Сообщение 3 про размер ёлки №0',0,NULL,NULL,'2026-11-29 21:13:03.737629');
INSERT INTO "chat" VALUES(2,1,'w1','chat','Покупатель 1','ord-1',NULL,NULL,NULL,'{"nmID": "123"}',NULL,'w1-3','w1-2','2026-03-01 10:13:00.000000','2026-03-01 10:12:00.000000','seller','Сообщение 3 про размер ёлки №1',0,NULL,NULL,'2026-11-29 21:13:03.746608');
INSERT INTO "chat" VALUES(3,1,'w2','chat','Покупатель 2','ord-2',NULL,NULL,NULL,'{"nmID": "123"}',NULL,'w2-3','w2-2','2026-03-01 10:23:00.000000','2026-03-01 10:22:00.000000','seller','Сообщение 3 про размер ёлки №2',0,NULL,NULL,'2026-11-29 21:13:03.749365');
INSERT INTO "chat" VALUES(4,2,'o0','chat','Покупатель 0','ord-0',NULL,NULL,NULL,'{"nmID": "123"}',NULL,'o0-3','o0-2','2026-03-01 10:03:00.000000','2026-03-01 10:02:00.000000','seller','Сообщение 3 про размер ёлки №0',0,NULL,NULL,'2026-11-29 21:13:03.751726');
INSERT INTO "chat" VALUES(5,2,'o1','chat','Покупатель 1','ord-1',NULL,NULL,NULL,'{"nmID": "123"}',NULL,'o1-3','o1-2','2026-03-01 10:13:00.000000','2026-03-01 10:12:00.000000','seller','Сообщение 3 про размер ёлки №1',0,NULL,NULL,'2026-11-29 21:13:03.754625');
INSERT INTO "chat" VALUES(6,2,'o2','chat','Покупатель 2','ord-2',NULL,NULL,NULL,'{"nmID": "123"}',NULL,'o2-3','o2-2','2026-03-01 10:23:00.000000','2026-03-01 10:22:00.000000','seller','Сообщение 3 про размер ёлки №2',0,NULL,NULL,'2026-11-29 21:13:03.756895');
INSERT INTO "syncstate" VALUES(1,1,'chats','cur-2','2026-11-29 21:13:03.759017','2026-11-29 21:13:03.759017',NULL,NULL,NULL,0,NULL,NULL);
INSERT INTO "syncstate" VALUES(2,2,'chats','cur-2',NULL,NULL,NULL,NULL,NULL,0,NULL,NULL);
INSERT INTO "lease" VALUES(1,'host:1:x','2026-11-29 21:14:03.771772');
INSERT INTO "message" VALUES(1,1,'w0-0','buyer','Сообщение 0 про размер ёлки №0','2026-03-01 10:00:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(2,1,'w0-1','seller','Сообщение 1 про размер ёлки №0','2026-03-01 10:01:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(3,1,'w0-2','buyer','Сообщение 2 про размер ёлки №0','2026-03-01 10:02:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(4,1,'w0-3','seller','Сообщение 3 про размер ёлки №0','2026-03-01 10:03:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(5,2,'w1-0','buyer','Сообщение 0 про размер ёлки №1','2026-03-01 10:10:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(6,2,'w1-1','seller','Сообщение 1 про размер ёлки №1','2026-03-01 10:11:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(7,2,'w1-2','buyer','Сообщение 2 про размер ёлки №1','2026-03-01 10:12:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(8,2,'w1-3','seller','Сообщение 3 про размер ёлки №1','2026-03-01 10:13:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(9,3,'w2-0','buyer','Сообщение 0 про размер ёлки №2','2026-03-01 10:20:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(10,3,'w2-1','seller','Сообщение 1 про размер ёлки №2','2026-03-01 10:21:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(11,3,'w2-2','buyer','Сообщение 2 про размер ёлки №2','2026-03-01 10:22:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(12,3,'w2-3','seller','Сообщение 3 про размер ёлки №2','2026-03-01 10:23:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(13,4,'o0-0','buyer','Сообщение 0 про размер ёлки №0','2026-03-01 10:00:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(14,4,'o0-1','seller','Сообщение 1 про размер ёлки №0','2026-03-01 10:01:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(15,4,'o0-2','buyer','Сообщение 2 про размер ёлки №0','2026-03-01 10:02:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(16,4,'o0-3','seller','Сообщение 3 про размер ёлки №0','2026-03-01 10:03:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(17,5,'o1-0','buyer','Сообщение 0 про размер ёлки №1','2026-03-01 10:10:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(18,5,'o1-1','seller','Сообщение 1 про размер ёлки №1','2026-03-01 10:11:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(19,5,'o1-2','buyer','Сообщение 2 про размер ёлки №1','2026-03-01 10:12:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(20,5,'o1-3','seller','Сообщение 3 про размер ёлки №1','2026-03-01 10:13:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(21,6,'o2-0','buyer','Сообщение 0 про размер ёлки №2','2026-03-01 10:20:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(22,6,'o2-1','seller','Сообщение 1 про размер ёлки №2','2026-03-01 10:21:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(23,6,'o2-2','buyer','Сообщение 2 про размер ёлки №2','2026-03-01 10:22:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(24,6,'o2-3','seller','Сообщение 3 про размер ёлки №2','2026-03-01 10:23:00.000000','[]','received',NULL);
INSERT INTO "message" VALUES(25,6,NULL,'seller','Ответ в очереди','2026-11-29 21:13:03.764003','[]','queued',NULL);
INSERT INTO "draft" VALUES(3,'черновик','2026-11-29 21:13:03.770877');
INSERT INTO "outbox" VALUES(1,25,2,'[]','[]',0,NULL,NULL,NULL,0,NULL,'2026-11-29 21:13:03.764003');
CREATE UNIQUE INDEX ix_account_name ON account (name);
CREATE INDEX ix_chat_activity ON chat (last_message_at, id);
CREATE INDEX ix_chat_account_id ON chat (account_id);
CREATE INDEX ix_chat_account_activity ON chat (account_id, last_message_at);
CREATE INDEX ix_message_chat_time ON message (chat_id, created_at, id);
CREATE INDEX ix_followup_state_due ON followup (state, due_at);
CREATE INDEX ix_followup_chat_id ON followup (chat_id);
CREATE INDEX ix_outbox_done ON outbox (done);
CREATE INDEX ix_outbox_account_id ON outbox (account_id);
COMMIT;
